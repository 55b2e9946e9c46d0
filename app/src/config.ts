import { envSchema } from 'env-schema';

/** Everything the app reads from its environment, validated once at start. */
export interface Config {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  DB_POOL_SIZE: number;
  DB_STARTUP_TIMEOUT_MS: number;
  KEEP_ALIVE_TIMEOUT_MS: number;
  SHUTDOWN_GRACE_MS: number;
  METRICS_ENABLED: boolean;
  STATIC_DIR?: string;
}

const schema = {
  type: 'object',
  required: ['DB_USER', 'DB_PASSWORD', 'DB_NAME'],
  properties: {
    // The design puts the app on loopback only: nginx in the same namespace is its only client.
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 5000 },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    DB_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DB_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3306 },
    DB_USER: { type: 'string', minLength: 1 },
    DB_PASSWORD: { type: 'string', minLength: 1 },
    DB_NAME: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
    DB_POOL_SIZE: { type: 'integer', minimum: 1, maximum: 200, default: 10 },
    DB_STARTUP_TIMEOUT_MS: { type: 'integer', minimum: 0, default: 120000 },
    // Longer than nginx's upstream keepalive_timeout (60 s), so nginx always closes an
    // idle upstream connection first and never reuses one the app is closing.
    KEEP_ALIVE_TIMEOUT_MS: { type: 'integer', minimum: 1000, default: 75000 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 0, default: 10000 },
    // Prometheus metrics, Server-Timing and the recent-requests buffer; off only to measure their cost.
    METRICS_ENABLED: { type: 'boolean', default: true },
    STATIC_DIR: { type: 'string', minLength: 1 },
  },
} as const;

/** Reads and validates the configuration; throws naming the offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema, data: env, dotenv: false });
}
