import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMPOSE_FILE, compose } from '../../scripts/ops/compose.js';
import { IMAGE_TAG, images } from './images.js';

export { COMPOSE_FILE, REPO_ROOT, compose } from '../../scripts/ops/compose.js';

interface ComposeHealthcheck {
  test: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

interface ComposeService {
  command?: string[];
  environment?: Record<string, string> | string[];
  healthcheck?: ComposeHealthcheck;
}

const composeFile = parse(readFileSync(COMPOSE_FILE, 'utf8')) as { services: Record<string, ComposeService> };

export function composeService(name: string): ComposeService {
  const service = composeFile.services[name];
  if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
  return service;
}

/** The default a service's `NAME: ${NAME:-default}` environment entry gives, as compose would. */
export function composeDefault(service: string, name: string): string {
  const environment = composeService(service).environment;
  const entry = Array.isArray(environment) ? undefined : environment?.[name];
  const value = entry === undefined ? undefined : /^\$\{[A-Z_]+:-(.*)\}$/.exec(entry)?.[1];
  if (value === undefined) throw new Error(`docker-compose.yml: ${service}.${name} has no \${${name}:-default}`);
  return value;
}

const durationMs = (value: string | undefined, fallback: number) => {
  const match = value ? /^(\d+)(ms|s|m)$/.exec(value) : null;
  if (!match) return fallback;
  return Number(match[1]) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[match[2] as 'ms' | 's' | 'm'];
};

/** A service's healthcheck from docker-compose.yml, in testcontainers' terms, polled faster. */
export function healthcheckOf(name: string) {
  const check = composeService(name).healthcheck;
  if (!check) throw new Error(`service ${name} has no healthcheck in docker-compose.yml`);
  const [kind, ...rest] = check.test;
  // Compose escapes $ as $$ in the file; the engine wants a single $.
  const test: ['CMD-SHELL', string] | ['CMD', ...string[]] =
    kind === 'CMD-SHELL' ? ['CMD-SHELL', rest.join(' ').replaceAll('$$', '$')] : ['CMD', ...rest];
  if (kind !== 'CMD-SHELL' && kind !== 'CMD') throw new Error(`service ${name}: unsupported healthcheck ${kind}`);
  return {
    test,
    interval: 1_000,
    timeout: durationMs(check.timeout, 5_000),
    retries: 120,
    startPeriod: durationMs(check.start_period, 0),
  };
}

export const secret = () => randomBytes(18).toString('base64url');

/**
 * Rate limits no test traffic reaches: load through one client address would otherwise
 * be limited. The limits themselves are tested at their defaults (test/hostile/limits).
 */
export const unlimited = {
  RATE_LIMIT_WRITES: '100000r/s',
  RATE_LIMIT_WRITES_BURST: '100000',
  RATE_LIMIT_READS: '100000r/s',
  RATE_LIMIT_READS_BURST: '100000',
};

/** Environment for one isolated run of the compose file: own passwords, own port, no rate limits. */
export function composeEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MYSQL_IMAGE: images.mysql,
    NGINX_IMAGE: images.nginxBase,
    NODE_IMAGE: images.nodeBase,
    IMAGE_TAG,
    MYSQL_DATABASE: 'webstack',
    MYSQL_USER: 'webstack',
    MYSQL_PASSWORD: secret(),
    MYSQL_ROOT_PASSWORD: secret(),
    HTTP_BIND: '127.0.0.1',
    HTTP_PORT: '0',
    HTTPS_PORT: '0',
    ...unlimited,
    ...overrides,
  };
}

/** The host port compose published for one of the server's ports (80 by default). */
export async function publishedPort(project: string, env: NodeJS.ProcessEnv, port = 80): Promise<number> {
  const out = await compose(project, ['port', 'server', String(port)], env);
  return Number(out.trim().split(':').pop());
}

/** The local CA the certs service made on first start (its certificate, PEM). */
export const localCa = (project: string, env: NodeJS.ProcessEnv) =>
  compose(project, ['exec', '-T', 'certs', 'cat', '/certs/local-ca/ca.pem'], env);

/** The site: the published HTTPS port, verified against the stack's local CA. */
export async function siteEndpoint(project: string, env: NodeJS.ProcessEnv): Promise<{ port: number; ca: string }> {
  return { port: await publishedPort(project, env, 443), ca: await localCa(project, env) };
}
