import { readFileSync } from 'node:fs';
import { envSchema } from 'env-schema';
import { Type, type Static } from 'typebox';

const Port = (defaultPort: number) => Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort });

// Variables with a default are required here only in the type: Ajv fills the default in
// before it checks.
const ConfigSchema = Type.Object({
  // The design puts the app on loopback only: nginx in the same namespace is its only client.
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Port(5000),
  // Who may state the client's address (X-Forwarded-For): nginx on loopback here; in a Swarm,
  // the stack's overlay subnet (addresses or CIDRs, comma-separated, as Fastify's trustProxy).
  TRUST_PROXY: Type.String({ minLength: 1, default: '127.0.0.1' }),
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
  // How long the app keeps serving after SIGTERM before it stops accepting. On one server
  // nginx is switched away first (0 is right); in a Swarm the task leaves tasks.app DNS when
  // it is told to stop, and nginx needs a moment to notice before connections are refused.
  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 0 }),
  // Prometheus metrics, Server-Timing and the recent-requests buffer; off only to measure their cost.
  METRICS_ENABLED: Type.Boolean({ default: true }),
  // The release this process runs: the image's tag when it was built (the Dockerfile stamps
  // it), shown in the metrics and on the status page.
  APP_RELEASE: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$', default: 'dev' }),
  STATIC_DIR: Type.Optional(Type.String({ minLength: 1 })),
});

/** Everything the app reads from its environment, validated once at start. */
export type Config = Static<typeof ConfigSchema>;

// Secrets may come as files (Docker secrets: DB_PASSWORD_FILE=/run/secrets/...) instead of
// values in the environment, which `docker inspect` and child processes would see.
const FILE_VARIABLES = ['DB_PASSWORD'] as const;

function withFileVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved = { ...env };
  for (const name of FILE_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined) continue;
    if (env[name] !== undefined) throw new Error(`set ${name} or ${name}_FILE, not both`);
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
        cause: err,
      });
    }
  }
  return resolved;
}

/** Reads and validates the configuration; throws naming the offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema: ConfigSchema, data: withFileVariables(env), dotenv: false });
}
