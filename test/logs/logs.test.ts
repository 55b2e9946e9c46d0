import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LOG_FLUSH_INTERVAL_MS } from '../../app/src/logging.js';
import { execIn, signalMainProcess } from '../../scripts/tool/core/docker.js';
import { request } from '../../scripts/tool/core/http.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { waitUntilHealthy, type Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';

// The real docker-compose.yml: nginx's buffered access log, the app's buffered info lines
// and its unbuffered warnings, all read back the way operators read them.
let stack: Stack;
let port: { port: number; ca: string };

beforeAll(async () => {
  stack = await sharedStack();
  port = stack.port;
});

type Line = Record<string, unknown>;

/** A service's log lines as `docker compose logs` shows them (stdout and stderr), parsed. */
async function logLines(service: string): Promise<Line[]> {
  const out = await stack.compose(['logs', '--no-log-prefix', '--no-color', service]);
  return (
    out
      .split('\n')
      // Compose prefixes each line with a terminal escape (erase line) even without colours.
      .map((line) => line.slice(line.indexOf('{')))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Line)
  );
}

const linesFor = (lines: Line[], key: string, id: string) => lines.filter((l) => l[key] === id);

/** GETs through nginx; returns the request ids nginx gave them. */
async function requestIds(path: string, count: number, status = 200): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await request(port, path);
    expect(res.status).toBe(status);
    ids.push(res.headers['x-request-id'] as string);
  }
  return ids;
}

const crash = async (service: string) => signalMainProcess(await stack.container(service), 'SIGKILL');

describe('request logs through nginx and the app', () => {
  it("buffers nginx's access log with a one-second flush (the cost this issue removed)", async () => {
    const config = await execIn(await stack.container('nginx'), ['nginx', '-T']);
    expect(config.stdout).toMatch(/^\s*access_log \S+ json buffer=64k flush=1s;$/m);
    expect(config.stdout).not.toMatch(/^\s*access_log \S+ json;$/m);
  });

  it("has nginx's access line and exactly one app line per request, correlated by request id", async () => {
    const ids = await requestIds('/api/posts?limit=1', 10);
    // Both buffers are flushed within a second; poll rather than assume when.
    let nginx: Line[] = [];
    let app: Line[] = [];
    await waitFor(
      'every request id is in both logs',
      async () => {
        [nginx, app] = await Promise.all([logLines('nginx'), logLines('app')]);
        return ids.every((id) => linesFor(nginx, 'request_id', id).length && linesFor(app, 'requestId', id).length);
      },
      { timeoutMs: 15_000 },
    );
    for (const id of ids) {
      const [access, ...moreAccess] = linesFor(nginx, 'request_id', id);
      expect(moreAccess).toEqual([]);
      expect(access).toMatchObject({ method: 'GET', uri: '/api/posts?limit=1', status: 200, upstream_status: '200' });
      expect(access?.upstream_response_time).toMatch(/^\d+\.\d{3}$/);
      const [line, ...more] = linesFor(app, 'requestId', id);
      expect(more).toEqual([]);
      expect(line).toMatchObject({ level: 30, method: 'GET', url: '/api/posts?limit=1', statusCode: 200 });
      expect(line?.responseTime).toEqual(expect.any(Number));
    }
  });
});

describe('kill -9 of nginx and the app', () => {
  it('loses no warning and no line older than the flush interval; only the last interval is at risk', async () => {
    const settled = await requestIds('/api/posts?limit=1', 10);
    // Past the flush interval (plus slack for a busy machine), these lines must be out.
    await new Promise((resolve) => setTimeout(resolve, 2 * LOG_FLUSH_INTERVAL_MS));

    // Docker restarts what is killed below (restart: unless-stopped); the stack is shared, so
    // the test ends only once every part is back and healthy, whatever its outcome.
    onTestFinished(() => waitUntilHealthy(stack));
    // A database crash turns the next reads into 503s, each logged as a warning.
    await crash('db');
    let warned: string | undefined;
    await waitFor(
      'a read is answered 503 (database unavailable)',
      async () => {
        const res = await request(port, '/api/posts?limit=1');
        if (res.status === 503) warned = res.headers['x-request-id'] as string;
        return res.status === 503;
      },
      { timeoutMs: 15_000 },
    );
    // Lines of these (answered without the database) are still in the buffers at the crash.
    const recent = await requestIds('/api/health/live', 10);
    // At once, as the OOM killer would: no chance to flush anything.
    await Promise.all([crash('app'), crash('nginx')]);

    // Read back after the containers are gone or restarted: what reached Docker stays.
    const [nginx, app] = await Promise.all([logLines('nginx'), logLines('app')]);
    for (const id of settled) {
      expect(linesFor(nginx, 'request_id', id), `nginx line of ${id}`).toHaveLength(1);
      expect(linesFor(app, 'requestId', id), `app line of ${id}`).toHaveLength(1);
    }
    const warning = linesFor(app, 'requestId', warned as string).find((l) => l.level === 40);
    expect(warning, 'the warning logged just before the crash').toMatchObject({ msg: 'database unavailable' });
    // Warnings go to stderr, written synchronously (the info lines are on stdout).
    const stderr = (await (await stack.container('app')).logs({ stdout: false, stderr: true })).toString();
    expect(stderr).toContain(`"requestId":"${warned}"`);

    const lost = (lines: Line[], key: string) => recent.filter((id) => !linesFor(lines, key, id).length).length;
    process.stdout.write(
      `kill -9 within ${LOG_FLUSH_INTERVAL_MS} ms of ${recent.length} requests lost ` +
        `${lost(nginx, 'request_id')} nginx and ${lost(app, 'requestId')} app info lines of them\n`,
    );
  });
});
