import { envSchema } from 'env-schema';

/** The monitor's environment, validated once at start. */
export interface MonitorConfig {
  MONITOR_HOST: string;
  MONITOR_PORT: number;
  NGINX_STATUS_LOG: string;
  APP_URL: string;
  APP_READY_PATH: string;
  NGINX_STATUS_URL: string;
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  BENCH_RESULTS: string;
  SITE_DOMAIN: string;
  SERVER_IPV4: string;
  DNS_RESOLVER: string;
  LOG_LEVEL: string;
  ALERT_WEBHOOK_URL: string;
  ALERT_SMTP_URL: string;
  ALERT_EMAIL_TO: string;
  ALERT_EMAIL_FROM: string;
  ALERT_RAISE_AFTER_SECONDS: number;
  ALERT_CLEAR_AFTER_SECONDS: number;
  ALERT_DISK_PATH: string;
  ALERT_DISK_PERCENT: number;
  ALERT_MEMORY_PERCENT: number;
  ALERT_CERT_DAYS: number;
  ALERT_5XX_PERCENT: number;
  ALERT_5XX_MIN_REQUESTS: number;
  ALERT_5XX_WINDOW_SECONDS: number;
  ALERT_RETRIES: number;
  ALERT_RETRY_SECONDS: number;
  ALERT_STATE_FILE: string;
  CERTS_STATE_FILE: string;
  BACKUP_STATE_FILE: string;
}

const schema = {
  type: 'object',
  required: ['DB_USER', 'DB_PASSWORD', 'DB_NAME'],
  properties: {
    // Loopback of the server namespace: only nginx (and the operator inside it) can ask.
    MONITOR_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    MONITOR_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 9100 },
    // nginx's per-request lines (STATUS_LOG on its side, nginx/status/41-status-log.sh), on
    // the volume both share: read once a second and truncated here.
    NGINX_STATUS_LOG: { type: 'string', minLength: 1, default: '/srv/status-log/requests.log' },
    APP_URL: { type: 'string', minLength: 1, default: 'http://127.0.0.1:5000' },
    // The app's side of the contract: this path on its port answers 2xx when it can serve.
    // The monitor judges the app up or down by it alone; its metrics are optional.
    APP_READY_PATH: { type: 'string', pattern: '^/[^\\s#]*$', default: '/ready' },
    NGINX_STATUS_URL: { type: 'string', minLength: 1, default: 'http://127.0.0.1:9113/stub_status' },
    DB_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DB_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3306 },
    DB_USER: { type: 'string', minLength: 1 },
    DB_PASSWORD: { type: 'string', minLength: 1 },
    DB_NAME: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
    // The bench's published run: its connection sweep gives the knee the load is compared with.
    BENCH_RESULTS: { type: 'string', minLength: 1, default: '/srv/bench/latest.json' },
    SITE_DOMAIN: { type: 'string', minLength: 1, default: 'www.foobar.com' },
    DNS_RESOLVER: { type: 'string', default: '' },
    // The server's public address, where it is known (a VPS): the monitor then looks the
    // site's records up (through DNS_RESOLVER if set, host[:port]) and the DNS box turns
    // red when the name resolves elsewhere. Empty (a laptop, the tests' stacks): no lookups.
    SERVER_IPV4: { type: 'string', default: '', pattern: '^$|^\\d{1,3}(\\.\\d{1,3}){3}$' },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    // Where alerts go: neither set, none are sent (they still show on /status).
    ALERT_WEBHOOK_URL: { type: 'string', pattern: '^$|^https?://[^\\s]+$', default: '' },
    ALERT_SMTP_URL: { type: 'string', pattern: '^$|^smtps?://[^\\s]+$', default: '' },
    ALERT_EMAIL_TO: { type: 'string', pattern: '^$|^[^@\\s]+@[^@\\s]+(,\\s*[^@\\s]+@[^@\\s]+)*$', default: '' },
    ALERT_EMAIL_FROM: { type: 'string', pattern: '^$|^[^@\\s]+@[^@\\s]+$', default: '' },
    // A condition must hold this long before its alert starts (a part restarting, a short
    // spike), and be gone this long before it clears: no storm from one that flaps.
    ALERT_RAISE_AFTER_SECONDS: { type: 'integer', minimum: 0, maximum: 86400, default: 30 },
    ALERT_CLEAR_AFTER_SECONDS: { type: 'integer', minimum: 0, maximum: 86400, default: 120 },
    // A path on the filesystem that holds the stack's volumes: the status-log volume is one.
    ALERT_DISK_PATH: { type: 'string', minLength: 1, default: '/srv/status-log' },
    ALERT_DISK_PERCENT: { type: 'number', exclusiveMinimum: 0, maximum: 100, default: 90 },
    ALERT_MEMORY_PERCENT: { type: 'number', exclusiveMinimum: 0, maximum: 100, default: 90 },
    ALERT_CERT_DAYS: { type: 'integer', minimum: 1, maximum: 365, default: 14 },
    ALERT_5XX_PERCENT: { type: 'number', minimum: 0, maximum: 100, default: 5 },
    ALERT_5XX_MIN_REQUESTS: { type: 'integer', minimum: 1, default: 20 },
    ALERT_5XX_WINDOW_SECONDS: { type: 'integer', minimum: 5, maximum: 600, default: 60 },
    ALERT_RETRIES: { type: 'integer', minimum: 0, maximum: 10, default: 3 },
    ALERT_RETRY_SECONDS: { type: 'number', minimum: 0, maximum: 600, default: 5 },
    // The alerts on when the monitor stopped, on its own volume: a restart does not send them again.
    ALERT_STATE_FILE: { type: 'string', minLength: 1, default: '/srv/state/alerts.json' },
    // The certs service's record of its renewals (failures since the last success), on its volume.
    CERTS_STATE_FILE: { type: 'string', minLength: 1, default: '/srv/certs/state.json' },
    // The backup service's record (its volume, where a VPS runs backups): the backup-age alert.
    BACKUP_STATE_FILE: { type: 'string', minLength: 1, default: '/srv/backup/status.json' },
  },
} as const;

export function loadMonitorConfig(env: NodeJS.ProcessEnv = process.env): MonitorConfig {
  const config = envSchema<MonitorConfig>({ schema, data: env, dotenv: false });
  if (config.ALERT_SMTP_URL && !config.ALERT_EMAIL_TO)
    throw new Error('ALERT_EMAIL_TO must name who gets the alerts when ALERT_SMTP_URL is set');
  if (config.ALERT_EMAIL_TO && !config.ALERT_SMTP_URL)
    throw new Error('ALERT_SMTP_URL must name the SMTP server when ALERT_EMAIL_TO is set');
  return config;
}
