import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app/src/app.js';
import { loadConfig } from '../../app/src/config.js';
import { parsePrometheusText, sumOf, type Sample } from '../../nginx/monitor/src/prometheus-text.js';
import { startAppWithDatabase, type TestApp } from '../support/app.js';
import { serverTiming } from '../support/server-timing.js';

let testApp: TestApp;
let app: FastifyInstance;

beforeAll(async () => {
  testApp = await startAppWithDatabase();
  app = testApp.app;
});

afterAll(async () => {
  await testApp?.stop();
});

async function scrape(): Promise<Sample[]> {
  const response = await app.inject('/internal/metrics');
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toContain('text/plain');
  return parsePrometheusText(response.body);
}

describe('app metrics (prom-client, real database)', () => {
  it('counts requests by route, method and status, and their latency, as they are made', async () => {
    const before = await scrape();
    const route = { method: 'GET', route: '/api/posts/:id' };
    for (let i = 0; i < 3; i++) expect((await app.inject('/api/posts/999999')).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'POST', url: '/api/posts', payload: { author: 'm', body: 'b' } })).statusCode,
    ).toBe(201);
    const after = await scrape();
    const delta = (name: string, where: Record<string, string>) =>
      sumOf(after, name, where) - sumOf(before, name, where);
    expect(delta('http_requests_total', { ...route, status: '404' })).toBe(3);
    expect(delta('http_requests_total', { method: 'POST', route: '/api/posts', status: '201' })).toBe(1);
    expect(delta('http_request_duration_seconds_count', { ...route, status: '404' })).toBe(3);
    expect(delta('http_request_duration_seconds_bucket', { ...route, status: '404', le: '+Inf' })).toBe(3);
    expect(delta('http_request_duration_seconds_sum', { ...route, status: '404' })).toBeGreaterThan(0);
    // Two selects, one insert, each timed.
    expect(delta('db_query_duration_seconds_count', { kind: 'select', outcome: 'ok' })).toBe(3);
    expect(delta('db_query_duration_seconds_count', { kind: 'insert', outcome: 'ok' })).toBe(1);
    // Its own scrapes are not counted, nor the probes at the root that the monitor asks.
    expect((await app.inject('/ready')).statusCode).toBe(200);
    expect((await app.inject('/live')).statusCode).toBe(200);
    const probed = await scrape();
    expect(probed.some((s) => s.labels.route?.startsWith('/internal'))).toBe(false);
    expect(probed.some((s) => s.labels.route === '/ready' || s.labels.route === '/live')).toBe(false);
  });

  it('counts 5xx answers and database errors by outcome, and names its release', async () => {
    const before = await scrape();
    // A statement that fails in the database: the app's pool answers the error.
    await expect(app.db.query('SELECT * FROM no_such_table')).rejects.toThrow();
    // Routes can only be added before ready: build a second app for the 5xx case instead.
    const other = await buildApp(loadConfig({ ...testApp.db.env, APP_RELEASE: 'test-r20261123T080000Z' }), {
      logger: false,
    });
    try {
      other.get('/api/boom', async () => {
        throw new Error('boom');
      });
      await other.ready();
      const response = await other.inject('/api/boom');
      expect(response.statusCode).toBe(500);
      const samples = parsePrometheusText((await other.inject('/internal/metrics')).body);
      expect(sumOf(samples, 'http_requests_total', { route: '/api/boom', status: '500' })).toBe(1);
      // The release it runs, as its configuration names it.
      expect(samples.filter((s) => s.name === 'app_info').map((s) => [s.labels.release, s.value])).toEqual([
        ['test-r20261123T080000Z', 1],
      ]);
    } finally {
      await other.close();
    }
    const after = await scrape();
    expect(
      sumOf(after, 'db_query_duration_seconds_count', { outcome: 'error' }) -
        sumOf(before, 'db_query_duration_seconds_count', { outcome: 'error' }),
    ).toBe(1);
  });

  it('reports the pool, the event loop and memory', async () => {
    const samples = await scrape();
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'db_pool_connections',
      'db_pool_waiting',
      'db_pool_limit',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(names, name).toContain(name);
    }
    expect(sumOf(samples, 'db_pool_limit')).toBe(10);
    expect(sumOf(samples, 'db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('sends Server-Timing with the app and database time on every API response', async () => {
    const list = await app.inject('/api/posts?limit=5');
    const timing = serverTiming(list.headers['server-timing']);
    expect(Object.keys(timing)).toEqual(['app', 'db']);
    expect(timing.db).toBeGreaterThan(0);
    expect(timing.app).toBeGreaterThanOrEqual(timing.db as number);
    expect(list.headers['server-timing']).toContain('desc="1 query"');

    const live = serverTiming((await app.inject('/api/health/live')).headers['server-timing']);
    expect(live.db).toBe(0);
    expect(live.app).toBeGreaterThan(0);
    const invalid = await app.inject({ method: 'POST', url: '/api/posts', payload: { nope: 1 } });
    expect(invalid.statusCode).toBe(400);
    expect(serverTiming(invalid.headers['server-timing']).app).toBeGreaterThan(0);
  });

  it('keeps recent requests by id with their app and database time', async () => {
    const response = await app.inject({ url: '/api/posts?limit=2', headers: { 'x-request-id': 'trace-me-1' } });
    expect(response.headers['x-request-id']).toBe('trace-me-1');
    const found = await app.inject('/internal/requests/trace-me-1');
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({
      id: 'trace-me-1',
      method: 'GET',
      route: '/api/posts',
      status: 200,
      queries: 1,
    });
    expect(found.json().dbMs).toBeGreaterThan(0);
    expect((await app.inject('/internal/requests?limit=1')).json()).toEqual([found.json()]);
    const missing = await app.inject('/internal/requests/never-seen');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('never-seen');
  });

  it("logs no line for the monitor's scrapes and probes, and one for a request", async () => {
    const lines: Array<{ msg: string; url?: string }> = [];
    const logged = await buildApp(loadConfig({ ...testApp.db.env }), {
      logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    });
    try {
      expect((await logged.inject('/internal/metrics')).statusCode).toBe(200);
      expect((await logged.inject('/ready')).statusCode).toBe(200);
      expect((await logged.inject('/api/health/live')).statusCode).toBe(200);
      expect(lines.filter((l) => l.msg === 'request completed').map((l) => l.url)).toEqual(['/api/health/live']);
    } finally {
      await logged.close();
    }
  });

  it('can be switched off (METRICS_ENABLED=false): no routes, no header', async () => {
    const bare = await buildApp(loadConfig({ ...testApp.db.env, METRICS_ENABLED: 'false' }), { logger: false });
    try {
      expect((await bare.inject('/internal/metrics')).statusCode).toBe(404);
      expect((await bare.inject('/api/health/live')).headers['server-timing']).toBeUndefined();
    } finally {
      await bare.close();
    }
  });
});
