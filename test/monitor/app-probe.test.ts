import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMonitorConfig } from '../../nginx/monitor/src/config.js';
import { Monitor } from '../../nginx/monitor/src/monitor.js';
import { parsePrometheusText, sumOf } from '../../nginx/monitor/src/prometheus-text.js';

/**
 * The monitor against a tiny app of someone else's: it has a readiness path and nothing
 * else (no metrics, no recent requests), beside a stand-in for nginx's stub_status. The
 * database is not there: its part is down, the rest must not care.
 */
const READY_PATH = '/healthz/ready';
let ready = true;
const asked: string[] = [];
let server: Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    asked.push(request.url ?? '');
    if (request.url === READY_PATH) {
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok' : 'not yet');
    } else if (request.url === '/stub_status') {
      response
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(
          'Active connections: 3 \nserver accepts handled requests\n 10 10 42 \nReading: 0 Writing: 1 Waiting: 2 \n',
        );
    } else {
      // What an app that renders its own pages answers for a path it does not know.
      response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>no such page</h1>');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(tmpdir(), 'webstack-monitor-'));
});

afterAll(async () => {
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const monitorFor = (warnings: string[]) =>
  new Monitor(
    loadMonitorConfig({
      APP_URL: base,
      APP_READY_PATH: READY_PATH,
      NGINX_STATUS_URL: `${base}/stub_status`,
      NGINX_STATUS_LOG: path.join(dir, 'requests.log'),
      BENCH_RESULTS: path.join(dir, 'none.json'),
      // Nothing listens on port 1: the database is down, at once.
      DB_HOST: '127.0.0.1',
      DB_PORT: '1',
      DB_USER: 'webstack',
      DB_PASSWORD: 'unused',
      DB_NAME: 'webstack',
    }),
    (_err, message) => warnings.push(message),
  );

const appUp = async (monitor: Monitor) =>
  sumOf(parsePrometheusText(await monitor.metrics.register.metrics()), 'webstack_up', { part: 'app' });

describe('the monitor and an app without metrics', () => {
  it("reports the app up or down by its readiness path alone, with nginx's figures still there", async () => {
    const monitor = monitorFor([]);
    try {
      ready = true;
      await monitor.tick(1_000_000);
      const up = monitor.latest;
      expect(asked).toContain(READY_PATH);
      expect(up?.parts.app.health).toBe('up');
      expect(await appUp(monitor)).toBe(1);
      // No metrics: no made-up figures, no release, nothing of the app's relayed.
      expect(up?.parts.app.traffic).toEqual({});
      expect(up?.parts.app.detail.release).toBeUndefined();
      expect(up?.parts.app.detail.address).toBe(new URL(base).host);
      expect(monitor.appMetricsText).toBeUndefined();
      // nginx's figures do not depend on the app's.
      expect(up?.parts.nginx.health).toBe('up');
      expect(up?.parts.nginx.detail.connections).toEqual({ active: 3, reading: 0, writing: 1, waiting: 2 });
      expect(up?.parts.db.health).toBe('down');

      ready = false;
      await monitor.tick(1_001_000);
      expect(monitor.latest?.parts.app.health).toBe('down');
      expect(await appUp(monitor)).toBe(0);
      expect(monitor.appUrl).toBeUndefined();
      expect(monitor.latest?.weakPoints.singlePointOfFailure.app).toMatchObject({ up: false, restarts: 0 });

      ready = true;
      await monitor.tick(1_004_000);
      expect(monitor.latest?.parts.app.health).toBe('up');
      // Back after 3 s away: recorded as an outage of the app.
      expect(monitor.latest?.weakPoints.maintenance.lastAppChange).toMatchObject({
        kind: 'outage',
        unreachableSeconds: 3,
      });
    } finally {
      await monitor.close();
    }
  });

  it('refuses a readiness path that is not a path, naming the setting', () => {
    const env = { DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'd' };
    expect(loadMonitorConfig(env).APP_READY_PATH).toBe('/ready');
    expect(() => loadMonitorConfig({ ...env, APP_READY_PATH: 'ready' })).toThrow(/APP_READY_PATH/);
    expect(() => loadMonitorConfig({ ...env, APP_READY_PATH: '/re ady' })).toThrow(/APP_READY_PATH/);
  });
});
