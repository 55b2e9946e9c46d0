import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../../scripts/tool/core/http.js';
import { defaultRateLimits, startStack, type Stack } from '../../scripts/tool/testing/stack.js';
import { rawRequest } from '../support/raw-http.js';
import { recordResult } from '../support/results.js';

// The limits as docker-compose.yml sets them by default.
let stack: Stack;
const limits = defaultRateLimits();

/** How long nginx's leaky bucket takes to forget a full burst: burst ÷ rate. */
function burstDrainMs(rate: string, burst: string): number {
  const parsed = /^(\d+)r\/([sm])$/.exec(rate);
  if (!parsed) throw new Error(`unexpected nginx rate ${rate}`);
  const perSecond = Number(parsed[1]) / (parsed[2] === 'm' ? 60 : 1);
  return (Number(burst) / perSecond) * 1_000;
}

beforeAll(async () => {
  stack = await startStack({ env: limits });
});

afterAll(async () => {
  await stack?.stop();
});

describe('rate limits (nginx limit_req, compose defaults)', () => {
  it('answers writes beyond the burst with 429 JSON and Retry-After, and changes nothing for them', async () => {
    const burst = Number(limits.RATE_LIMIT_WRITES_BURST);
    const statuses: number[] = [];
    const attempts = burst * 3;
    const responses = await Promise.all(
      Array.from({ length: attempts }, (_, i) =>
        request(stack.port, '/api/posts', { method: 'POST', body: { author: 'burst', body: `post ${i}` } }),
      ),
    );
    for (const response of responses) statuses.push(response.status);
    const accepted = statuses.filter((s) => s === 201).length;
    const limited = responses.filter((r) => r.status === 429);
    expect(accepted + limited.length).toBe(attempts);
    expect(limited.length).toBeGreaterThan(0);
    // Burst plus what the rate lets through while the requests arrive: never all of them.
    expect(accepted).toBeGreaterThanOrEqual(burst);
    expect(accepted).toBeLessThan(attempts);
    expect(limited[0]!.headers['retry-after']).toBe('1');
    expect(limited[0]!.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    // Exactly the accepted writes are stored.
    expect(Number(await stack.sql("SELECT COUNT(*) FROM posts WHERE author = 'burst'"))).toBe(accepted);
    await recordResult('rateLimits', { ...limits, burstAttempted: attempts, accepted, limited: limited.length });
  });

  it('keeps reads generous: a page load worth of parallel reads is never limited', async () => {
    const paths = ['/', '/assets/app.js', '/assets/style.css', '/api/posts', '/api/health/live'];
    const responses = await Promise.all(
      paths.flatMap((path) => [path, path, path]).map((path) => request(stack.port, path)),
    );
    expect(responses.map((r) => r.status).filter((s) => s === 429)).toEqual([]);
  });
});

describe('slow clients', () => {
  it('are cut off by timeouts (trickled headers, a body that never comes) while others are served', async () => {
    // The rate-limit test above spends the write burst; a POST refused with 429 would be
    // closed by nginx's 5 s lingering close instead of the body timeout under test. A probe
    // POST that succeeds proves nothing (it spends the room it found), so wait until the
    // leaky bucket has drained the whole burst.
    await sleep(burstDrainMs(limits.RATE_LIMIT_WRITES, limits.RATE_LIMIT_WRITES_BURST) + 1_000);
    const trickledHeaders = rawRequest(stack.port, 'GET /api/posts HTTP/1.1\r\nHost: www.foobar.com\r\n', {
      trickle: { bytes: 'X-Slow: ' + 'a'.repeat(60), intervalMs: 2_000 },
      timeoutMs: 60_000,
    });
    const missingBody = rawRequest(
      stack.port,
      'POST /api/posts HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{"author"',
      { timeoutMs: 60_000 },
    );
    // Meanwhile an ordinary client gets answered at once.
    const started = Date.now();
    const normal = await request(stack.port, '/api/health/live');
    expect(normal.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);

    const [headers, body] = await Promise.all([trickledHeaders, missingBody]);
    // nginx's client_header_timeout / client_body_timeout are 10 s.
    for (const [what, cut] of Object.entries({ headers, body })) {
      expect([0, 408], `${what}: ${cut.status} ${cut.body.slice(0, 120)}`).toContain(cut.status);
      expect(cut.closedAfterMs, what).toBeGreaterThanOrEqual(9_000);
      expect(cut.closedAfterMs, what).toBeLessThan(30_000);
    }
    await recordResult('slowClients', { headerCutAfterMs: headers.closedAfterMs, bodyCutAfterMs: body.closedAfterMs });
  });
});
