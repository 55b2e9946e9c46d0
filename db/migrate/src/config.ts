import { readFileSync } from 'node:fs';
import { envSchema } from 'env-schema';

/** Everything the migration runner reads from its environment, validated once at start. */
export interface Config {
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  /** The app's folder of SQL files (mounted read-only by docker-compose.yml). */
  MIGRATIONS_DIR: string;
  /** How long to wait for another runner's lock before giving up. */
  MIGRATE_LOCK_WAIT_SECONDS: number;
  /** How long to wait for the database to accept connections (it starts beside the runner). */
  DB_WAIT_SECONDS: number;
  LOG_LEVEL: string;
}

const schema = {
  type: 'object',
  required: ['DB_USER', 'DB_PASSWORD', 'DB_NAME'],
  properties: {
    DB_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DB_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3306 },
    DB_USER: { type: 'string', minLength: 1 },
    DB_PASSWORD: { type: 'string', minLength: 1 },
    DB_NAME: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
    MIGRATIONS_DIR: { type: 'string', minLength: 1, default: '/migrations' },
    MIGRATE_LOCK_WAIT_SECONDS: { type: 'integer', minimum: 0, default: 60 },
    DB_WAIT_SECONDS: { type: 'integer', minimum: 0, default: 180 },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
  },
} as const;

/**
 * The password may come as a file (a Docker secret: DB_PASSWORD_FILE=/run/secrets/...), which
 * `docker inspect` does not show, as the app allows.
 */
function withPasswordFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = env.DB_PASSWORD_FILE;
  if (file === undefined) return env;
  if (env.DB_PASSWORD !== undefined) throw new Error('set DB_PASSWORD or DB_PASSWORD_FILE, not both');
  try {
    return { ...env, DB_PASSWORD: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
  } catch (err) {
    throw new Error(`DB_PASSWORD_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
}

/** Reads and validates the configuration; throws naming the offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema, data: withPasswordFile(env), dotenv: false });
}
