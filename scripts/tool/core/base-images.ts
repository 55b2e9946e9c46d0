// The base images (MYSQL_IMAGE, NGINX_IMAGE, NODE_IMAGE) chosen and made present the way
// scripts/up does it: by running the same shell function, scripts/lib/images.sh's
// ensure_images, the one place that knows them. The official images where a registry
// answers, else stand-ins it builds on this machine from Debian and npm packages (that
// needs root, debootstrap and apt the first time). Names already set in `env` win.
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './paths.js';
import type { Log } from './steps.js';

export const BASE_IMAGE_NAMES = ['MYSQL_IMAGE', 'NGINX_IMAGE', 'NODE_IMAGE'] as const;
/**
 * What ensure_images settles besides the names: the Debian image an app's build may start
 * from (its DEBIAN_IMAGE argument) and the CA bundle image builds trust (docker-compose.yml).
 */
const SETTLED = [...BASE_IMAGE_NAMES, 'DEBIAN_IMAGE', 'BUILD_CA_BUNDLE'];

const ENSURE = `source scripts/lib/images.sh && ensure_images && for name in ${SETTLED.join(' ')}; do printf '%s=%s\\n' "$name" "\${!name:-}"; done`;

/**
 * Runs ensure_images with `env`; resolves with the variables it settled (the three names,
 * DEBIAN_IMAGE, and BUILD_CA_BUNDLE when there is one). Its progress lines go to `log` as they come:
 * building a stand-in takes minutes the first time.
 */
export function ensureBaseImages(env: NodeJS.ProcessEnv, log: Log): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', ENSURE], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (stderr.slice(stderr.lastIndexOf('\n') + 1) + chunk.toString('utf8')).split('\n');
      stderr += chunk.toString('utf8');
      lines.pop();
      for (const line of lines) if (line.trim()) log(line.replace(/^==> /, ''));
    });
    child.on('error', (err) => reject(new Error(`cannot run bash for scripts/lib/images.sh: ${err.message}`)));
    child.on('close', (code) => {
      const settled = Object.fromEntries(
        [...stdout.matchAll(new RegExp(`^(${SETTLED.join('|')})=(.+)$`, 'gm'))].map((m) => [m[1]!, m[2]!]),
      );
      if (code !== 0 || BASE_IMAGE_NAMES.some((name) => !settled[name])) {
        const said = stderr.trim().split('\n').slice(-3).join('\n') || 'no message';
        reject(
          new Error(
            `could not make the base images present on this machine (scripts/lib/images.sh ensure_images, exit ${code}): ${said}`,
          ),
        );
        return;
      }
      resolve(settled);
    });
  });
}
