import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { REPO_ROOT } from './paths.js';

/**
 * The environment a command works with, as compose sees it: the repo's .env (written by
 * scripts/up: passwords, the image choice) under the process environment, which wins.
 * A function, not an import side effect, so importing a module never reads a file.
 */
export function loadEnv(file = `${REPO_ROOT}.env`, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const saved = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...saved, ...base };
}

/**
 * The services docker-compose.yml builds from this repo, each into webstack/<service> under
 * IMAGE_TAG: the sample app, and the stack's own programs.
 */
export const BUILT_SERVICES = ['app', 'nginx', 'certs', 'monitor'] as const;
export type BuiltService = (typeof BUILT_SERVICES)[number];

export type Images = Record<BuiltService, string> & {
  mysql: string;
  nginxBase: string;
  nodeBase: string;
  tag: string;
};

/**
 * The images a stack runs: the base images scripts/up chose (official, or the local
 * stand-ins recorded in .env) and this repo's images under IMAGE_TAG.
 */
export function imagesOf(env: NodeJS.ProcessEnv, defaultTag = 'latest'): Images {
  const tag = env.IMAGE_TAG ?? defaultTag;
  return {
    mysql: env.MYSQL_IMAGE ?? 'mysql:8.4',
    nginxBase: env.NGINX_IMAGE ?? 'nginx:1.28',
    nodeBase: env.NODE_IMAGE ?? 'node:24-bookworm-slim',
    ...(Object.fromEntries(BUILT_SERVICES.map((service) => [service, `webstack/${service}:${tag}`])) as Record<
      BuiltService,
      string
    >),
    tag,
  };
}

/** This repo's images among `images`, in BUILT_SERVICES' order. */
export const builtImages = (images: Images): string[] => BUILT_SERVICES.map((service) => images[service]);
