import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const COMPOSE_FILE = `${REPO_ROOT}docker-compose.yml`;

const run = promisify(execFile);

/** The stack an operations command works on: its compose project and environment. */
export interface StackTarget {
  project: string;
  env: NodeJS.ProcessEnv;
}

/** The stack scripts/up starts: compose's project (COMPOSE_PROJECT_NAME or the file's name), .env. */
export const defaultTarget = (): StackTarget => ({
  project: process.env.COMPOSE_PROJECT_NAME ?? 'webstack',
  env: process.env,
});

/** Runs `docker compose` on the repo's compose file; throws with its output on failure. */
export async function compose(project: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run('docker', ['compose', '-f', COMPOSE_FILE, '-p', project, ...args], {
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
