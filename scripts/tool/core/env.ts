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

export interface Images {
  mysql: string;
  nginxBase: string;
  nodeBase: string;
  /** The app: APP_IMAGE when set (a ready image), else the one built from APP_DIR under IMAGE_TAG. */
  app: string;
  /** The stack's own images, built from this repo under IMAGE_TAG. */
  nginx: string;
  certs: string;
  monitor: string;
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
    app: env.APP_IMAGE || `webstack/app:${tag}`,
    nginx: `webstack/nginx:${tag}`,
    certs: `webstack/certs:${tag}`,
    monitor: `webstack/monitor:${tag}`,
    tag,
  };
}
