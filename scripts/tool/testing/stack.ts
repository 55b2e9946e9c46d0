import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { compose, composeDefault } from '../core/compose.js';
import { publishedPort, serviceContainer } from '../core/docker.js';
import { imagesOf } from '../core/env.js';
import { request } from '../core/http.js';
import { sqlAsRoot } from '../core/sql.js';
import { waitFor } from '../core/wait.js';

/**
 * A copy of the stack exactly as docker-compose.yml describes it, for tests and the bench:
 * its own compose project, passwords, volumes and a free port on 127.0.0.1. The topology
 * is written once, in docker-compose.yml; this only chooses the environment.
 */

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

/**
 * Rate limits no test traffic reaches: load through one client address would otherwise
 * be limited. The limits themselves are tested at their defaults (test/hostile/limits).
 */
export const unlimited: RateLimits = {
  RATE_LIMIT_WRITES: '100000r/s',
  RATE_LIMIT_WRITES_BURST: '100000',
  RATE_LIMIT_READS: '100000r/s',
  RATE_LIMIT_READS_BURST: '100000',
};

export const secret = () => randomBytes(18).toString('base64url');

/**
 * Environment for one isolated copy of the stack: the base images and IMAGE_TAG from
 * `base`, its own passwords, a free port on 127.0.0.1, no rate limits unless overridden.
 */
export function isolatedEnv(base: NodeJS.ProcessEnv, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const images = imagesOf(base);
  return {
    ...base,
    MYSQL_IMAGE: images.mysql,
    NGINX_IMAGE: images.nginxBase,
    NODE_IMAGE: images.nodeBase,
    IMAGE_TAG: images.tag,
    MYSQL_DATABASE: 'webstack',
    MYSQL_USER: 'webstack',
    MYSQL_PASSWORD: secret(),
    MYSQL_ROOT_PASSWORD: secret(),
    STATUS_PASSWORD: secret(),
    HTTP_BIND: '127.0.0.1',
    HTTP_PORT: '0',
    ...unlimited,
    ...overrides,
  };
}

export interface StackOptions {
  /** Compose project name; a random one with this prefix by default. */
  project?: string;
  /** The environment images and IMAGE_TAG come from (default: this process's). */
  base?: NodeJS.ProcessEnv;
  /** Variables for docker-compose.yml, e.g. rate limits or LOG_LEVEL. */
  env?: Record<string, string>;
  /** `--build` when bringing it up (default: use the images as they are). */
  build?: boolean;
}

export interface Stack {
  project: string;
  env: NodeJS.ProcessEnv;
  /** nginx's published port on 127.0.0.1: the only way in. */
  port: number;
  /** The current container of a service (it changes when compose recreates one). */
  container(service: string): Promise<Docker.Container>;
  /** SQL as root on the app's database; rows as tab-separated lines. */
  sql(statement: string): Promise<string>;
  /** Any other `docker compose` command on this project. */
  compose(args: string[]): Promise<string>;
  /** `down --volumes`: removes the containers, the network and the data. */
  stop(): Promise<void>;
}

/** Brings a stack up from docker-compose.yml and waits until every service is healthy. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const project = options.project ?? `webstack-test-${randomBytes(4).toString('hex')}`;
  const env = isolatedEnv(options.base ?? process.env, options.env);
  const run = (args: string[]) => compose(project, args, env);
  const stop = async () => {
    await run(['down', '--volumes', '--remove-orphans', '--timeout', '20']);
  };
  try {
    await run(['up', '-d', '--wait', options.build ? '--build' : '--no-build']);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  const container = (service: string) => serviceContainer(project, service);
  return {
    project,
    env,
    port: await publishedPort(await container('server')),
    container,
    sql: async (statement) => sqlAsRoot(await container('db'), statement),
    compose: run,
    stop,
  };
}

/** Waits until the front door says the app is ready again (after a restart of any part). */
export async function waitUntilReady(port: number, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    'GET /api/health/ready answers 200 through nginx',
    async () => (await request(port, '/api/health/ready')).status === 200,
    { timeoutMs },
  );
}
