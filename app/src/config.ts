import { envSchema } from 'env-schema';
import { Type, type Static } from 'typebox';

const Port = (defaultPort: number) => Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort });

// Variables with a default are required here only in the type: Ajv fills the default in
// before it checks.
const ConfigSchema = Type.Object({
  // The design puts the app on loopback only: nginx in the same namespace is its only client.
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Port(5000),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  DB_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DB_PORT: Port(3306),
  DB_USER: Type.String({ minLength: 1 }),
  DB_PASSWORD: Type.String({ minLength: 1 }),
  DB_NAME: Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$' }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DB_STARTUP_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 120000 }),
  // Longer than nginx's upstream keepalive_timeout (60 s), so nginx always closes an
  // idle upstream connection first and never reuses one the app is closing.
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 75000 }),
  // Largest accepted request body: a 2000-character post in 4-byte UTF-8 plus JSON, with
  // room. At least nginx's client_max_body_size, so nginx is the one that answers 413.
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 16384 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000 }),
  STATIC_DIR: Type.Optional(Type.String({ minLength: 1 })),
});

/** Everything the app reads from its environment, validated once at start. */
export type Config = Static<typeof ConfigSchema>;

/** Reads and validates the configuration; throws naming the offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema: ConfigSchema, data: env, dotenv: false });
}
