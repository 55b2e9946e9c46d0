import { beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, sumOf, type Sample } from '../../nginx/monitor/src/prometheus-text.js';
import { request } from '../../scripts/tool/core/http.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';
import { serverTiming } from '../support/server-timing.js';
import { statusAuthorization } from '../support/http.js';

let stack: Stack;
let auth: Record<string, string>;

beforeAll(async () => {
  stack = await sharedStack();
  auth = { authorization: statusAuthorization(stack.env.STATUS_PASSWORD) };
});

async function scrape(): Promise<Sample[]> {
  const response = await request(stack.port, '/status/metrics', { headers: auth });
  expect(response.status).toBe(200);
  return parsePrometheusText(response.body);
}

describe('metrics and Server-Timing through nginx (the compose stack)', () => {
  it('adds nginx hops to the app and database times in Server-Timing, plausibly', async () => {
    await request(stack.port, '/api/posts', { body: { author: 'timing', body: 'a post' }, method: 'POST' });
    const response = await request(stack.port, '/api/posts?limit=10');
    expect(response.status).toBe(200);
    const timing = serverTiming(response.headers['server-timing']);
    expect(Object.keys(timing).sort()).toEqual(['app', 'db', 'proxy-connect', 'proxy-wait']);
    for (const value of Object.values(timing)) expect(value).toBeGreaterThanOrEqual(0);
    expect(timing.db).toBeGreaterThan(0);
    expect(timing.app).toBeGreaterThanOrEqual(timing.db as number);
    // nginx waits at least as long as the app works (its clock has millisecond steps).
    expect((timing['proxy-wait'] as number) + 1).toBeGreaterThanOrEqual(timing.app as number);
    // A static file never reaches the app: no Server-Timing at all.
    expect((await request(stack.port, '/')).headers['server-timing']).toBeUndefined();
  });

  it('serves nginx, database and app metrics with the password; they move with requests', async () => {
    // The monitor gathers once a second.
    await waitFor(
      'the monitor sees every part',
      async () => {
        const samples = await scrape();
        return ['nginx', 'app', 'db', 'server'].every((part) => sumOf(samples, 'webstack_up', { part }) === 1);
      },
      { timeoutMs: 30_000 },
    );
    const before = await scrape();
    for (let i = 0; i < 5; i++) expect((await request(stack.port, '/api/posts/424242')).status).toBe(404);
    await waitFor(
      'nginx and the app counted the five 404s',
      async () => {
        const after = await scrape();
        const delta = (name: string, where: Record<string, string>) =>
          sumOf(after, name, where) - sumOf(before, name, where);
        return (
          delta('nginx_http_responses_total', { status: '404' }) === 5 &&
          delta('http_requests_total', { route: '/api/posts/:id', status: '404' }) === 5
        );
      },
      { timeoutMs: 10_000 },
    );
    const samples = await scrape();
    expect(sumOf(samples, 'nginx_http_requests')).toBeGreaterThan(sumOf(before, 'nginx_http_requests'));
    expect(sumOf(samples, 'mysql_questions')).toBeGreaterThan(0);
    expect(sumOf(samples, 'mysql_threads_connected')).toBeGreaterThanOrEqual(2);
    expect(sumOf(samples, 'mysql_innodb_buffer_pool_read_requests')).toBeGreaterThan(0);
    const hit = sumOf(samples, 'mysql_innodb_buffer_pool_hit_ratio');
    expect(hit).toBeGreaterThanOrEqual(0);
    expect(hit).toBeLessThanOrEqual(1);
    for (const name of [
      'nginx_connections_active',
      'nginx_connections_accepted',
      'nginx_request_duration_seconds_count',
      'mysql_innodb_row_lock_waits',
      'mysql_threads_running',
      'mysql_innodb_buffer_pool_reads',
      'db_pool_connections',
      'db_query_duration_seconds_count',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(
        samples.some((s) => s.name === name),
        name,
      ).toBe(true);
    }
  });

  it('counts the 502s nginx answers while the app is down, and sees the app down', async () => {
    const app = await stack.container('app');
    const before = await scrape();
    await app.stop({ t: 10 });
    try {
      for (let i = 0; i < 3; i++) expect((await request(stack.port, '/api/posts')).status).toBe(502);
      await waitFor(
        'the monitor saw the app down and nginx answer 502 three times',
        async () => {
          const samples = await scrape();
          return (
            sumOf(samples, 'webstack_up', { part: 'app' }) === 0 &&
            sumOf(samples, 'nginx_http_responses_total', { status: '502' }) -
              sumOf(before, 'nginx_http_responses_total', { status: '502' }) ===
              3
          );
        },
        { timeoutMs: 10_000 },
      );
    } finally {
      await app.start();
    }
    await waitUntilReady(stack.port);
  });

  it('refuses the status page and the metrics without the right password (401)', async () => {
    for (const path of ['/status/', '/status/metrics', '/status/events', '/status/requests/x']) {
      const none = await request(stack.port, path);
      expect(none.status, path).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Basic realm="webstack status"');
      const wrong = await request(stack.port, path, {
        headers: { authorization: `Basic ${Buffer.from('status:wrong').toString('base64')}` },
      });
      expect(wrong.status, path).toBe(401);
      expect(wrong.body).not.toContain('nginx_');
    }
    // Not the app's business: /internal/ is never proxied.
    expect((await request(stack.port, '/internal/metrics')).status).toBe(404);
    expect((await request(stack.port, '/api/../internal/metrics')).status).toBe(404);
  });
});
