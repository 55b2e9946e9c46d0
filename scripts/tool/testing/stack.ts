import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import type Docker from 'dockerode';
import { DockerComposeEnvironment, Wait } from 'testcontainers';
import { compose, composeDefault, composeFiles, healthChecked, runningServices } from '../core/compose.js';
import { docker, publishedPort, removeContainer, serviceContainer } from '../core/docker.js';
import { REPO_ROOT } from '../core/paths.js';
import { BUILT_SERVICES, imagesOf } from '../core/env.js';
import { request, type Endpoint } from '../core/http.js';
import { siteEndpoint } from '../core/site.js';
import { sqlAsRoot } from '../core/sql.js';
import { waitFor } from '../core/wait.js';

/**
 * A copy of the stack exactly as docker-compose.yml describes it, for tests, the bench and
 * the public fixture (testing/index.ts): its own compose project, passwords, volumes and a
 * free port on 127.0.0.1, brought up by testcontainers' DockerComposeEnvironment. The
 * topology is written once, in docker-compose.yml; this only chooses the environment.
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
    HTTPS_PORT: '0',
    ...unlimited,
    ...overrides,
  };
}

export interface StackOptions {
  /** Compose project name; by default one this process owns (see stackProjectName). */
  project?: string;
  /** The environment images and IMAGE_TAG come from (default: this process's). */
  base?: NodeJS.ProcessEnv;
  /** Variables for docker-compose.yml, e.g. rate limits or LOG_LEVEL. */
  env?: Record<string, string>;
  /** Build the stack's images first: always (true), only those missing ('missing'), never (default). */
  build?: boolean | 'missing';
  /** How long every service may take to become healthy (default 4 minutes). */
  startupTimeoutMs?: number;
  /** Compose files layered on docker-compose.yml (absolute paths), e.g. an example app's. */
  overrides?: string[];
}

export interface Stack {
  project: string;
  env: NodeJS.ProcessEnv;
  /** The site: nginx's published HTTPS port on 127.0.0.1, with the local CA that signed its certificate. */
  port: { port: number; ca: string };
  /** nginx's plain-HTTP port on 127.0.0.1: the ACME challenge path and redirects to https only. */
  httpPort: number;
  /** The site's endpoint as it is now (ports and CA change when the stack is taken down and up again). */
  site(): Promise<{ port: number; ca: string }>;
  /** The current container of a service (it changes when compose recreates one). */
  container(service: string): Promise<Docker.Container>;
  /** SQL as root on the app's database; rows as tab-separated lines. */
  sql(statement: string): Promise<string>;
  /** Any other `docker compose` command on this project. */
  compose(args: string[]): Promise<string>;
  /** `down --volumes`: removes the containers, the network and the data. */
  stop(): Promise<void>;
}

const PROJECT_PREFIX = 'webstack-test-';
// Which machine (or container: each has its own process ids) started a stack.
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);
const OWNED = new RegExp(`^${PROJECT_PREFIX}${HOST}-(\\d+)-[0-9a-f]+$`);

/**
 * A compose project name that says who owns it: this machine and process. Parallel stacks
 * never share one, and a later run knows a stack is left over when its owner is gone.
 */
export const stackProjectName = (pid = process.pid) =>
  `${PROJECT_PREFIX}${HOST}-${pid}-${randomBytes(3).toString('hex')}`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes the stacks a crashed run of this machine left behind: every project named by
 * stackProjectName whose process no longer exists. Stacks of running processes (another
 * test run, a parallel worker) are left alone. Everything compose made carries the
 * project's label, so `down --volumes` finds it all.
 */
export async function removeLeftoverStacks(): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: ['com.docker.compose.project'] } });
  const projects = new Set(containers.map((c) => c.Labels['com.docker.compose.project'] ?? ''));
  const leftovers = [...projects].filter((project) => {
    const pid = OWNED.exec(project)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
  for (const project of leftovers) {
    try {
      // A deploy cut short leaves its second app container outside compose's own list.
      for (const c of containers.filter((c) => c.Labels['com.docker.compose.project'] === project))
        await removeContainer(c.Id);
      await compose(project, ['down', '--volumes', '--remove-orphans', '--timeout', '0'], isolatedEnv(process.env));
    } catch (err) {
      // Another process may be removing the same leftover at this moment; it is not this run's stack.
      process.stderr.write(`webstack: could not remove leftover stack ${project}: ${(err as Error).message}\n`);
    }
  }
  return leftovers;
}

// A compose project name allows fewer characters than an image tag (no dot: testing-0.1.0).
const buildProject = (tag: string) => `${PROJECT_PREFIX}build-${tag.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`;

/**
 * Builds the stack's own images (BUILT_SERVICES) through docker-compose.yml, the one
 * definition of how they are built: 'always' (docker's cache keeps that quick when nothing
 * changed), or only when one of them is 'missing'. A ready app image (APP_IMAGE) is not
 * built: compose pulls it when it is not on this machine.
 */
export async function buildStackImages(base: NodeJS.ProcessEnv, when: 'always' | 'missing'): Promise<void> {
  const images = imagesOf(base);
  const services = BUILT_SERVICES.filter((service) => service !== 'app' || !base.APP_IMAGE);
  if (when === 'missing') {
    const present = await Promise.all(
      services.map((service) =>
        docker
          .getImage(images[service])
          .inspect()
          .then(() => true)
          .catch(() => false),
      ),
    );
    if (present.every(Boolean)) return;
  }
  await compose(buildProject(images.tag), ['build', ...services], isolatedEnv(base));
}

/**
 * Builds the app in `dir` (a folder with a Dockerfile) through docker-compose.yml's app service,
 * under a tag of its own, so that it never takes the place of the sample's image; its name.
 * With `reuse`, an image built before is taken as it is.
 */
export async function buildAppDir(base: NodeJS.ProcessEnv, dir: string, reuse = false): Promise<string> {
  const images = imagesOf(base);
  const tag = `${images.tag}-app-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}`;
  const env = isolatedEnv({ ...base, APP_DIR: dir, IMAGE_TAG: tag, APP_IMAGE: '' });
  const name = imagesOf(env).app;
  if (reuse) return name;
  await compose(buildProject(tag), ['build', 'app'], env);
  return name;
}

let leftoversRemoved: Promise<unknown> | undefined;

/** Brings a stack up from docker-compose.yml and waits until every service is healthy. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  leftoversRemoved ??= removeLeftoverStacks();
  await leftoversRemoved;
  const project = options.project ?? stackProjectName();
  const env = isolatedEnv(options.base ?? process.env, options.env);
  const overrides = options.overrides ?? [];
  const run = (args: string[]) => compose(project, args, env, overrides);
  const files = [...composeFiles(env), ...overrides.map((file) => relative(REPO_ROOT, file))];
  let environment = new DockerComposeEnvironment(REPO_ROOT, files)
    .withProjectName(project)
    .withEnvironment(Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)))
    // Each stack is removed by stop(), or by removeLeftoverStacks() after a crash: no Ryuk,
    // whose image needs a registry.
    .withAutoCleanup(false)
    .withStartupTimeout(options.startupTimeoutMs ?? 240_000);
  // Healthy as docker-compose.yml defines it, for every service (compose's container names end
  // in -1) but the one-shot ones (restart "no", the migrations): compose starts what depends
  // on them only after they exited 0, and fails `up` otherwise.
  for (const service of runningServices()) {
    environment = environment.withWaitStrategy(
      `${service}-1`,
      healthChecked(service) ? Wait.forHealthCheck() : Wait.forSuccessfulCommand('true'),
    );
  }
  if (options.build === true) environment = environment.withBuild();
  else if (!options.build) environment = environment.withClientOptions({ commandOptions: ['--no-build'] });
  try {
    await environment.up();
  } catch (err) {
    // testcontainers takes a stack that failed to come up down itself; its volumes stay.
    await run(['down', '--volumes', '--remove-orphans', '--timeout', '0']).catch(() => undefined);
    throw err;
  }
  return stackOf(project, env, overrides);
}

/**
 * A handle on a stack that is already running, from what startStack chose for it: its
 * compose project, environment and override files. For a stack another process started
 * (a test run's shared stack), whose handle cannot be passed on with its methods.
 */
export async function stackOf(project: string, env: NodeJS.ProcessEnv, overrides: string[] = []): Promise<Stack> {
  const run = (args: string[]) => compose(project, args, env, overrides);
  const container = (service: string) => serviceContainer(project, service);
  const server = await container('server');
  return {
    project,
    env,
    port: await siteEndpoint(project, server),
    httpPort: await publishedPort(server, 80),
    site: () => siteEndpoint(project),
    container,
    sql: async (statement) => sqlAsRoot(await container('db'), statement),
    compose: run,
    stop: async () => {
      await run(['down', '--volumes', '--remove-orphans', '--timeout', '20']);
    },
  };
}

/** Waits until the front door says the app is ready again (after a restart of any part). */
export async function waitUntilReady(port: Endpoint, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    'GET /api/health/ready answers 200 through nginx',
    async () => (await request(port, '/api/health/ready')).status === 200,
    { timeoutMs },
  );
}

/**
 * Waits until every service that keeps running is up again, and healthy where it has a
 * health check (after a part crashed or was restarted), and the front door is ready.
 */
export async function waitUntilHealthy(stack: Stack, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    'every service that keeps running is healthy',
    async () => {
      const up = await Promise.all(
        runningServices().map(async (service) => {
          const { State: state } = await (await stack.container(service)).inspect();
          return state.Running && (!healthChecked(service) || state.Health?.Status === 'healthy');
        }),
      );
      return up.every(Boolean);
    },
    { timeoutMs },
  );
  await waitUntilReady(await stack.site());
}
