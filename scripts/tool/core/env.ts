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
 * The services whose images this repo builds (docker-compose.yml's `build:` sections), each
 * as webstack/<service>:<IMAGE_TAG>: the one list every builder, shipper and cleaner reads.
 */
export const BUILT_SERVICES = ['server', 'app', 'nginx', 'certs', 'monitor', 'migrate'] as const;
export type BuiltService = (typeof BUILT_SERVICES)[number];

/** The base images, then the stack's own images, built from this repo under IMAGE_TAG. */
export interface Images extends Record<BuiltService, string> {
  mysql: string;
  nginxBase: string;
  nodeBase: string;
  tag: string;
}

/**
 * The images a stack runs: the base images scripts/up chose (official, or the local
 * stand-ins recorded in .env), the app's and this repo's images under IMAGE_TAG.
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
    // A ready image, when APP_IMAGE names one, instead of the one built from APP_DIR.
    ...(env.APP_IMAGE ? { app: env.APP_IMAGE } : {}),
    tag,
  };
}

/** The stack's own images (BUILT_SERVICES) under `images.tag`, in that order. */
export const builtImages = (images: Images): string[] => BUILT_SERVICES.map((service) => images[service]);
