import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { composeDefault, composeService, healthcheckOf, secret, unlimited } from './compose.js';
import { DB_CONFIG_FILE, databaseEnvironment } from './database.js';
import { request, waitUntil, type Endpoint } from './http.js';
import { images } from './images.js';

import { docker } from '../../scripts/ops/docker.js';

export { docker };

export interface Stack {
  /** nginx's HTTPS port on 127.0.0.1 with the local CA that signed its certificate: the site. */
  port: { port: number; ca: string };
  /** nginx's plain-HTTP port on 127.0.0.1: the ACME challenge path and redirects to https only. */
  httpPort: number;
  server: StartedTestContainer;
  certs: StartedTestContainer;
  db: StartedTestContainer;
  app: StartedTestContainer;
  nginx: StartedTestContainer;
  /** Runs SQL in the database container as root; returns the rows as tab-separated lines. */
  sql(statement: string): Promise<string>;
  stop(): Promise<void>;
}

const RATE_LIMITS = [
  'RATE_LIMIT_WRITES',
  'RATE_LIMIT_WRITES_BURST',
  'RATE_LIMIT_READS',
  'RATE_LIMIT_READS_BURST',
] as const;
export type RateLimits = Record<(typeof RATE_LIMITS)[number], string>;

/** The limits docker-compose.yml gives nginx when .env sets none. */
export const defaultRateLimits = (): RateLimits =>
  Object.fromEntries(RATE_LIMITS.map((name) => [name, composeDefault('nginx', name)])) as RateLimits;

export interface StackOptions {
  rateLimits?: RateLimits;
}

/**
 * The stack as docker-compose.yml runs it, from the repo's own images: a "server"
 * container owns the network namespace and publishes port 80 only; db, app and nginx
 * join it and talk over loopback.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const password = secret();
  const rootPassword = secret();
  const server = await new GenericContainer(images.nginxBase)
    .withCommand(composeService('server').command ?? ['sleep', 'infinity'])
    .withExposedPorts(80, 443)
    .withWaitStrategy(Wait.forSuccessfulCommand('true'))
    .start();
  const joined = `container:${server.getId()}`;

  // The certificate volume, as compose's certs service fills it (local CA on first start).
  const certsVolume = `webstack-certs-${server.getId().slice(0, 12)}`;
  const challengeVolume = `webstack-acme-${server.getId().slice(0, 12)}`;
  const certs = await new GenericContainer(images.certs)
    .withNetworkMode(joined)
    .withBindMounts([
      { source: certsVolume, target: '/certs', mode: 'rw' },
      { source: challengeVolume, target: '/acme-challenge', mode: 'rw' },
    ])
    .withHealthCheck(healthcheckOf('certs'))
    .withWaitStrategy(Wait.forHealthCheck())
    .start();

  const db = await new GenericContainer(images.mysql)
    .withNetworkMode(joined)
    .withEnvironment(databaseEnvironment(password, rootPassword))
    .withCopyFilesToContainer([DB_CONFIG_FILE])
    .withHealthCheck(healthcheckOf('db'))
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(180_000)
    .start();

  const app = await new GenericContainer(images.app)
    .withNetworkMode(joined)
    .withEnvironment({ DB_USER: 'webstack', DB_PASSWORD: password, DB_NAME: 'webstack' })
    .withHealthCheck(healthcheckOf('app'))
    .withWaitStrategy(Wait.forHealthCheck())
    .start();

  const nginx = await new GenericContainer(images.nginx)
    .withNetworkMode(joined)
    .withBindMounts([
      { source: certsVolume, target: '/etc/nginx/certs', mode: 'ro' },
      { source: challengeVolume, target: '/var/www/acme-challenge', mode: 'ro' },
    ])
    .withEnvironment(options.rateLimits ?? unlimited)
    .withHealthCheck(healthcheckOf('nginx'))
    .withWaitStrategy(Wait.forHealthCheck())
    .start();

  const ca = (await certs.exec(['cat', '/certs/local-ca/ca.pem'])).stdout;
  return {
    port: { port: server.getMappedPort(443), ca },
    httpPort: server.getMappedPort(80),
    server,
    certs,
    db,
    app,
    nginx,
    async sql(statement) {
      const result = await db.exec(['mysql', '-uroot', '-N', '-B', '-e', statement, 'webstack'], {
        env: { MYSQL_PWD: rootPassword },
      });
      if (result.exitCode !== 0) throw new Error(`SQL failed (${result.exitCode}): ${result.output}`);
      return result.stdout.trim();
    },
    async stop() {
      for (const container of [nginx, app, db, certs, server]) await container.stop().catch(() => undefined);
      for (const volume of [certsVolume, challengeVolume])
        await docker
          .getVolume(volume)
          .remove()
          .catch(() => undefined);
    },
  };
}

/** Waits until the front door says the app is ready again (after a restart of any part). */
export function waitUntilReady(port: Endpoint, timeoutMs = 90_000): Promise<void> {
  return waitUntil(
    'GET /api/health/ready answers 200 through nginx',
    async () => (await request(port, '/api/health/ready')).status === 200,
    timeoutMs,
  );
}
