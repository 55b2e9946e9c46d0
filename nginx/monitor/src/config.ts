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
  },
} as const;

export function loadMonitorConfig(env: NodeJS.ProcessEnv = process.env): MonitorConfig {
  return envSchema<MonitorConfig>({ schema, data: env, dotenv: false });
}
