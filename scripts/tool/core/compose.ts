import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadEnv } from './env.js';
import { APP_IMAGE_COMPOSE_FILE, COMPOSE_FILE, REPO_ROOT } from './paths.js';

const run = promisify(execFile);

/** The stack a command works on: its compose project and environment. */
export interface StackTarget {
  project: string;
  env: NodeJS.ProcessEnv;
}

/** The stack scripts/up starts: compose's project (COMPOSE_PROJECT_NAME or the file's name), with .env. */
export function defaultTarget(): StackTarget {
  const env = loadEnv();
  return { project: env.COMPOSE_PROJECT_NAME ?? 'webstack', env };
}

/** How a command runs `docker compose` for a project: here (below), or on a server over SSH (scripts/vps). */
export type ComposeRunner = (project: string, args: string[], env: NodeJS.ProcessEnv) => Promise<string>;

/**
 * The compose files a stack with `env` runs from, relative to REPO_ROOT: docker-compose.yml,
 * and the override that takes the app from a ready image when APP_IMAGE is set.
 */
export const composeFiles = (env: NodeJS.ProcessEnv): string[] => [
  COMPOSE_FILE.slice(REPO_ROOT.length),
  ...(env.APP_IMAGE ? [APP_IMAGE_COMPOSE_FILE] : []),
];

/**
 * Runs `docker compose` on the repo's compose files (composeFiles), with `overrides` layered
 * on them (e.g. an example app's); throws with its output on failure.
 */
export async function compose(
  project: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  overrides: readonly string[] = [],
): Promise<string> {
  const files = [...composeFiles(env), ...overrides].flatMap((file) => ['-f', file]);
  try {
    const { stdout } = await run('docker', ['compose', ...files, '-p', project, ...args], {
      env,
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`docker compose ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: err });
  }
}

export interface ComposeHealthcheck {
  test: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

export interface ComposeService {
  image?: string;
  build?: { dockerfile?: string };
  command?: string[];
  user?: string;
  /** "no" marks a one-shot service (it runs once and exits), such as the migrations. */
  restart?: string;
  environment?: Record<string, string> | string[];
  healthcheck?: ComposeHealthcheck;
}

let composeFile: { services: Record<string, ComposeService> } | undefined;
const services = () =>
  (composeFile ??= parse(readFileSync(COMPOSE_FILE, 'utf8')) as { services: Record<string, ComposeService> }).services;

/** The names of docker-compose.yml's services. */
export const composeServices = (): string[] => Object.keys(services());

/** The services that keep running (all but the one-shot ones, such as the migrations). */
export const runningServices = (): string[] =>
  composeServices().filter((name) => composeService(name).restart !== 'no');

/**
 * Whether Docker reports a health status for a service that keeps running: docker-compose.yml
 * gives it a health check, or it is the app, whose image brings its own (the app contract).
 * The namespace owner ("server") has none: it runs `sleep`.
 */
export const healthChecked = (name: string): boolean =>
  name === 'app' || composeService(name).healthcheck !== undefined;

/** One service as docker-compose.yml defines it (read once, on first use). */
export function composeService(name: string): ComposeService {
  const service = services()[name];
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

/** The settings (.env's names) a service's definition in docker-compose.yml reads, as ${NAME...}. */
export function composeSettings(service: string): string[] {
  const names = JSON.stringify(composeService(service)).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g);
  return [...new Set([...names].map(([, name]) => name!))];
}
