import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { REPO_ROOT, healthcheckOf, secret } from './compose.js';
import { images } from './images.js';

export const DB_CONFIG_FILE = { source: `${REPO_ROOT}db/conf/webstack.cnf`, target: '/etc/mysql/conf.d/webstack.cnf' };

export interface TestDatabase {
  container: StartedTestContainer;
  env: { DB_HOST: string; DB_PORT: string; DB_USER: string; DB_PASSWORD: string; DB_NAME: string };
  rootPassword: string;
}

/** Environment of the database container, as docker-compose.yml gives it. */
export function databaseEnvironment(password: string, rootPassword: string) {
  return {
    MYSQL_ROOT_PASSWORD: rootPassword,
    MYSQL_DATABASE: 'webstack',
    MYSQL_USER: 'webstack',
    MYSQL_PASSWORD: password,
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
  const container = await new GenericContainer(images.mysql)
    .withEnvironment(databaseEnvironment(password, rootPassword))
    .withCopyFilesToContainer([DB_CONFIG_FILE])
    .withCommand(['--bind-address=0.0.0.0'])
    .withExposedPorts(3306)
    .withHealthCheck(healthcheckOf('db'))
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
