import { existsSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { execIn } from './docker.js';

/** The app contract's readiness path (docs/your-app.md): 200 when the app can serve. */
export const READY_PATH = '/ready';

// bash's /dev/tcp: the probing container (nginx) need not have curl.
const PROBE = `exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' "$2" >&3 && read -r -t 3 line <&3 && [[ "$line" == "HTTP/1."?" 200 "* ]]`;

/**
 * Whether the app in `app` is ready to serve on `port`: Docker's health status where its
 * image has a health check (the sample's asks its /ready), else GET READY_PATH on `port`,
 * sent from `prober`, a container with bash in the same network namespace (nginx).
 */
export async function appIsReady(app: Docker.Container, port: number, prober: Docker.Container): Promise<boolean> {
  const health = (await app.inspect()).State.Health;
  if (health) return health.Status === 'healthy';
  return (await execIn(prober, ['bash', '-c', PROBE, 'probe', String(port), READY_PATH])).exitCode === 0;
}

/** The app a stack runs: the sample (neither), a folder with a Dockerfile (APP_DIR), or a ready image (APP_IMAGE). */
export type AppChoice = { dir: string } | { image: string } | undefined;

/**
 * The app `env` chooses, APP_DIR resolved against `cwd`; throws, saying what to do, when
 * both are set or the folder holds no Dockerfile (scripts/up checks the same for .env).
 */
export function appChoice(env: NodeJS.ProcessEnv, cwd = process.cwd()): AppChoice {
  const { APP_DIR: dir, APP_IMAGE: image } = env;
  if (dir && image) {
    throw new Error(
      `APP_DIR (${dir}) and APP_IMAGE (${image}) are both set: the app is either a folder to build or a ready image, unset one`,
    );
  }
  if (image) return { image };
  if (!dir) return undefined;
  const absolute = path.resolve(cwd, dir);
  if (!existsSync(path.join(absolute, 'Dockerfile'))) {
    throw new Error(
      `APP_DIR=${dir}: ${absolute} holds no Dockerfile; point APP_DIR at your app's folder, which must have one`,
    );
  }
  return { dir: absolute };
}

/**
 * The app's folder of SQL migrations as docker-compose.yml mounts it: APP_MIGRATIONS, else
 * APP_DIR's (or the sample's) migrations/, against `root` as compose resolves them; throws,
 * saying what to do, when a ready image names none or the folder is missing.
 */
export function appMigrations(env: NodeJS.ProcessEnv, root: string): string {
  const choice = appChoice(env, root);
  if (choice && 'image' in choice && !env.APP_MIGRATIONS) {
    throw new Error(
      `APP_IMAGE=${choice.image}: set APP_MIGRATIONS (or app.migrations in the deployment file) to its folder of SQL migrations, an empty folder if it has none`,
    );
  }
  const folder = path.resolve(
    root,
    env.APP_MIGRATIONS || path.join(choice && 'dir' in choice ? choice.dir : 'app', 'migrations'),
  );
  if (!existsSync(folder)) {
    throw new Error(
      `the app's migrations folder ${folder} does not exist: create it (empty if there are none) or set APP_MIGRATIONS`,
    );
  }
  return folder;
}
