import type { ConnectionOptions } from 'mysql2/promise';
import { pino } from 'pino';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { migrate } from '../../db/migrate/src/migrations.js';
import { TEST_LABEL } from './labels.js';
import { composeService } from '../../scripts/tool/core/compose.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { secret } from '../../scripts/tool/testing/stack.js';

/** The sample app's folder of SQL files, as compose's migrate service gets it by default. */
export const APP_MIGRATIONS = `${REPO_ROOT}app/migrations`;

const DB_CONFIG_FILE = { source: `${REPO_ROOT}db/conf/webstack.cnf`, target: '/etc/mysql/conf.d/webstack.cnf' };

export interface TestDatabase {
  container: StartedTestContainer;
  env: { DB_HOST: string; DB_PORT: string; DB_USER: string; DB_PASSWORD: string; DB_NAME: string };
  rootPassword: string;
}

const durationMs = (value: string | undefined, fallback: number) => {
  const match = value ? /^(\d+)(ms|s|m)$/.exec(value) : null;
  if (!match) return fallback;
  return Number(match[1]) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[match[2] as 'ms' | 's' | 'm'];
};

/** The db service's healthcheck from docker-compose.yml, in testcontainers' terms, polled faster. */
function databaseHealthcheck() {
  const check = composeService('db').healthcheck;
  if (!check) throw new Error('service db has no healthcheck in docker-compose.yml');
  const [kind, ...rest] = check.test;
  if (kind !== 'CMD-SHELL') throw new Error(`service db: expected a CMD-SHELL healthcheck, not ${kind}`);
  return {
    // Compose escapes $ as $$ in the file; the engine wants a single $.
    test: ['CMD-SHELL', rest.join(' ').replaceAll('$$', '$')] as ['CMD-SHELL', string],
    interval: 1_000,
    timeout: durationMs(check.timeout, 5_000),
    retries: 120,
    startPeriod: durationMs(check.start_period, 0),
  };
}

/**
 * The stack's database image and configuration on its own network, published on
 * 127.0.0.1, for app tests that run the app in this process. Only the bind address
 * differs from the stack, where the database listens on loopback inside the namespace.
 */
export async function startDatabase(): Promise<TestDatabase> {
  const password = secret();
  const rootPassword = secret();
  const container = await new GenericContainer(imagesOf(process.env).mysql)
    .withLabels(TEST_LABEL)
    .withEnvironment({
      MYSQL_ROOT_PASSWORD: rootPassword,
      MYSQL_DATABASE: 'webstack',
      MYSQL_USER: 'webstack',
      MYSQL_PASSWORD: password,
    })
    .withCopyFilesToContainer([DB_CONFIG_FILE])
    .withCommand(['--bind-address=0.0.0.0'])
    .withExposedPorts(3306)
    .withHealthCheck(databaseHealthcheck())
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(180_000)
    .start();
  return {
    container,
    rootPassword,
    env: {
      DB_HOST: container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost(),
      DB_PORT: String(container.getMappedPort(3306)),
      DB_USER: 'webstack',
      DB_PASSWORD: password,
      DB_NAME: 'webstack',
    },
  };
}

/** How a client in this process reaches the test database as the app's user. */
export const connectionOf = (db: TestDatabase): ConnectionOptions => ({
  host: db.env.DB_HOST,
  port: Number(db.env.DB_PORT),
  user: db.env.DB_USER,
  password: db.env.DB_PASSWORD,
  database: db.env.DB_NAME,
  charset: 'utf8mb4_unicode_ci',
});

/** Applies the sample app's migrations with the migrate service's runner, as the stack does before the app starts. */
export async function migrateDatabase(db: TestDatabase): Promise<string[]> {
  return migrate({
    connection: connectionOf(db),
    dir: APP_MIGRATIONS,
    lockWaitSeconds: 60,
    log: pino({ level: 'silent' }),
  });
}
