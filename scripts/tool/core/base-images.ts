// The base images (MYSQL_IMAGE, NGINX_IMAGE, NODE_IMAGE) chosen and made present the way
// scripts/up does it: by running the same shell function (ensure_images), so the official
// images where a registry answers and the local stand-ins where none does, built when
// missing. Names already given (the environment, then .env) win, as they do for scripts/up.
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './paths.js';
import type { Log } from './steps.js';

export const BASE_IMAGE_NAMES = ['MYSQL_IMAGE', 'NGINX_IMAGE', 'NODE_IMAGE'] as const;

const ENSURE = `source scripts/lib/images.sh && ensure_images && for name in ${BASE_IMAGE_NAMES.join(' ')}; do printf '%s=%s\\n' "$name" "\${!name}"; done`;

/** `env` with the three base image names ensure_images settled on; its progress lines go to `log`. */
export function ensureBaseImages(env: NodeJS.ProcessEnv, log: Log): Promise<NodeJS.ProcessEnv> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', ENSURE], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) log(`  ${line.replace(/^==> /, '')}`);
    });
    child.on('error', (err) => reject(new Error(`cannot run bash for scripts/lib/images.sh: ${err.message}`)));
    child.on('close', (code) => {
      const chosen = Object.fromEntries(
        [...stdout.matchAll(new RegExp(`^(${BASE_IMAGE_NAMES.join('|')})=(.+)$`, 'gm'))].map((m) => [m[1]!, m[2]!]),
      );
      if (code !== 0 || Object.keys(chosen).length !== BASE_IMAGE_NAMES.length) {
        const said = stderr.trim().split('\n').slice(-3).join('\n') || 'no message';
        reject(
          new Error(
            `could not make the base images present on this machine (scripts/lib/images.sh ensure_images, exit ${code}): ${said}\nscripts/up runs the same step and shows all of its output`,
          ),
        );
        return;
      }
      resolve({ ...env, ...chosen });
    });
  });
}
