import type Docker from 'dockerode';
import { execIn } from './docker.js';

// nginx/upstream/app-server.conf, on the nginx-upstream volume (docker-compose.yml).
const UPSTREAM_FILE = '/etc/nginx/upstream/app-server.conf';
const WORKERS_EXIT_TIMEOUT_MS = 60_000;

async function run(nginx: Docker.Container, script: string): Promise<string> {
  const result = await execIn(nginx, ['sh', '-c', script]);
  if (result.exitCode !== 0)
    throw new Error(`in the nginx container, "${script}" failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** The app port nginx sends /api/ to, as its upstream file says. */
export async function liveAppPort(nginx: Docker.Container): Promise<number> {
  const text = await run(nginx, `cat ${UPSTREAM_FILE}`);
  const match = /^\s*server\s+127\.0\.0\.1:(\d+)/m.exec(text);
  if (!match) throw new Error(`${UPSTREAM_FILE} names no app server:\n${text}`);
  return Number(match[1]);
}

/** Points the upstream at another app port; the old file is put back if nginx rejects the new one. */
export async function writeUpstream(nginx: Docker.Container, port: number): Promise<void> {
  const line = `server 127.0.0.1:${port};`;
  await run(
    nginx,
    `cp ${UPSTREAM_FILE} ${UPSTREAM_FILE}.bak && ` +
      `printf '%s\\n' '# The live app instance, written by scripts/deploy.' '${line}' > ${UPSTREAM_FILE}.new && ` +
      `mv ${UPSTREAM_FILE}.new ${UPSTREAM_FILE} && ` +
      `{ nginx -t -q || { mv ${UPSTREAM_FILE}.bak ${UPSTREAM_FILE}; exit 1; }; }`,
  );
}

async function workerPids(nginx: Docker.Container): Promise<Set<string>> {
  // Workers title themselves "nginx: worker process"; [s] keeps grep from matching itself.
  const out = await run(nginx, `grep -ls 'nginx: worker proces[s]' /proc/[0-9]*/cmdline || true`);
  return new Set(
    out
      .split('\n')
      .map((line) => /\/proc\/(\d+)\//.exec(line)?.[1])
      .filter((pid): pid is string => !!pid),
  );
}

/**
 * Graceful reload: new workers take the new configuration, old ones finish what they
 * are serving and exit. Resolves once every old worker is gone, so that nothing still
 * holds a keep-alive connection to an app instance that is about to stop.
 */
export async function reloadGracefully(nginx: Docker.Container): Promise<{ oldWorkers: number }> {
  const before = await workerPids(nginx);
  await run(nginx, 'nginx -s reload');
  const deadline = Date.now() + WORKERS_EXIT_TIMEOUT_MS;
  for (;;) {
    const now = await workerPids(nginx);
    const remaining = [...before].filter((pid) => now.has(pid));
    const fresh = [...now].filter((pid) => !before.has(pid));
    if (remaining.length === 0 && fresh.length > 0) return { oldWorkers: before.size };
    if (Date.now() > deadline)
      throw new Error(
        `nginx's old workers (${remaining.join(', ')}) did not exit within ${WORKERS_EXIT_TIMEOUT_MS / 1000} s of the reload`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
