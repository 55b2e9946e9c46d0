import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { composeService, healthcheckOf, secret } from './compose.js';
import { DB_CONFIG_FILE, databaseEnvironment } from './database.js';
import { request, waitUntil } from './http.js';
import { images } from './images.js';

export { docker } from '../../scripts/ops/docker.js';

export interface Stack {
  /** Host port on 127.0.0.1 where nginx answers: the only way in. */
  port: number;
  server: StartedTestContainer;
  db: StartedTestContainer;
  app: StartedTestContainer;
  nginx: StartedTestContainer;
  stop(): Promise<void>;
}

/**
 * The stack as docker-compose.yml runs it, from the repo's own images: a "server"
 * container owns the network namespace and publishes port 80 only; db, app and nginx
 * join it and talk over loopback.
 */
export async function startStack(): Promise<Stack> {
  const password = secret();
  const server = await new GenericContainer(images.nginxBase)
    .withCommand(composeService('server').command ?? ['sleep', 'infinity'])
    .withExposedPorts(80)
    .withWaitStrategy(Wait.forSuccessfulCommand('true'))
    .start();
  const joined = `container:${server.getId()}`;

  const db = await new GenericContainer(images.mysql)
    .withNetworkMode(joined)
    .withEnvironment(databaseEnvironment(password, secret()))
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
    .withHealthCheck(healthcheckOf('nginx'))
    .withWaitStrategy(Wait.forHealthCheck())
    .start();

  const port = server.getMappedPort(80);
  return {
    port,
    server,
    db,
    app,
    nginx,
    async stop() {
      for (const container of [nginx, app, db, server]) await container.stop().catch(() => undefined);
    },
  };
}

/** Waits until the front door says the app is ready again (after a restart of any part). */
export function waitUntilReady(port: number, timeoutMs = 90_000): Promise<void> {
  return waitUntil(
    'GET /api/health/ready answers 200 through nginx',
    async () => (await request(port, '/api/health/ready')).status === 200,
    timeoutMs,
  );
}
