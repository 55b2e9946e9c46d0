import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalMainProcess } from '../../scripts/tool/core/docker.js';
import { request } from '../../scripts/tool/core/http.js';
import {
  outageMs,
  readWriteMix,
  runTraffic,
  type TrafficRequest,
  type TrafficResult,
} from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';
import { isCleanJsonError } from '../support/http.js';
import { recordResult } from '../support/results.js';

// The real docker-compose.yml, restart policies included.
let stack: Stack;
/** The site over HTTPS, verified against the stack's local CA. */
let port: { port: number; ca: string };

beforeAll(async () => {
  stack = await startStack({ project: `webstack-test-faults-${randomBytes(3).toString('hex')}` });
  port = stack.port;
});

afterAll(async () => {
  await stack?.stop();
});

const signal = async (service: string, name: NodeJS.Signals) => signalMainProcess(await stack.container(service), name);

const sql = (statement: string) => stack.sql(statement);

const ready = async () => (await request(port, '/api/health/ready')).status === 200;

const errorCount = (result: TrafficResult) => Object.values(result.errors).reduce((sum, n) => sum + n, 0);

describe('durability settings', () => {
  it('flushes the redo log and binlog on every commit, with the doublewrite buffer on', async () => {
    expect(await sql('SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@innodb_doublewrite')).toMatch(
      /^1\t1\t(1|ON)$/,
    );
  });
});

describe('kill -9 of the database during a stream of writes', () => {
  it('loses no acknowledged write', async () => {
    const acknowledged = new Map<number, string>();
    const failures: Record<string, number> = {};
    const tag = randomBytes(4).toString('hex');
    const killAt = 3_000;
    const kill = sleep(killAt).then(() => signal('db', 'SIGKILL'));
    let written = 0;
    const writes: TrafficRequest[] = [
      {
        weight: 1,
        path: '/api/posts',
        options: () => ({ method: 'POST', body: { author: `crash-${tag}`, body: `write ${written++}` } }),
      },
    ];
    const result = await runTraffic({
      port,
      connections: 4,
      durationMs: 20_000,
      mix: writes,
      onResponse: (_request, response) => {
        if (response.status === 201) {
          const post = response.json<{ id: number; body: string }>();
          acknowledged.set(post.id, post.body);
        } else {
          failures[response.status] = (failures[response.status] ?? 0) + 1;
          expect(
            isCleanJsonError(response.status, response.body, response.headers['content-type']),
            response.body,
          ).toBe(true);
        }
      },
    });
    await kill;
    await waitFor('the database restarted and the app is ready', ready, { timeoutMs: 90_000 });

    const stored = new Map(
      (await sql(`SELECT id, body FROM posts WHERE author = 'crash-${tag}'`))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t') as [string, string])
        .map(([id, body]) => [Number(id), body]),
    );
    const lost = [...acknowledged].filter(([id, body]) => stored.get(id) !== body);
    const restarts = (await (await stack.container('db')).inspect()).RestartCount;
    await recordResult('databaseKill', {
      writesAttempted: result.total,
      acknowledged: acknowledged.size,
      foundAfterRestart: [...acknowledged.keys()].filter((id) => stored.has(id)).length,
      lost: lost.length,
      failedDuringOutage: failures,
      restarts,
    });
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(Object.values(failures).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(lost).toEqual([]);
  });
});

describe('kill -9 of the app under load', () => {
  it('comes back by its restart policy, answers JSON 502/503 meanwhile, and serves without errors after', async () => {
    const duringOutage: Record<string, number> = {};
    const kill = sleep(2_000).then(() => signal('app', 'SIGKILL'));
    const outage = await runTraffic({
      port,
      connections: 8,
      durationMs: 60_000,
      until: kill.then(() => waitFor('the app answers again', ready, { timeoutMs: 60_000 })),
      mix: readWriteMix,
      onResponse: (_request, response) => {
        if (response.status >= 200 && response.status < 300) return;
        duringOutage[response.status] = (duringOutage[response.status] ?? 0) + 1;
        expect([502, 503]).toContain(response.status);
        expect(isCleanJsonError(response.status, response.body, response.headers['content-type']), response.body).toBe(
          true,
        );
      },
    });
    const after = await runTraffic({ port, connections: 8, durationMs: 5_000, mix: readWriteMix });
    await recordResult('appKill', {
      recoverySeconds: (outageMs(outage.samples) ?? 0) / 1000,
      duringOutage,
      outageErrors: errorCount(outage),
      afterRecovery: { requests: after.total, non2xx: after.failed - errorCount(after), errors: errorCount(after) },
    });
    expect(Object.keys(duringOutage).length).toBeGreaterThan(0);
    expect(after.total).toBeGreaterThan(0);
    expect(after.failed).toBe(0);
  });
});

describe('SIGTERM while a slow request is in flight', () => {
  it('finishes that request, refuses new ones cleanly, then the restart policy brings the app back', async () => {
    // A table lock held for 3 s makes a read wait inside the app: a slow request.
    const lock = sql('LOCK TABLES posts WRITE; SELECT SLEEP(3); UNLOCK TABLES;');
    await sleep(500);
    const slow = request(port, '/api/posts?limit=1', { timeoutMs: 20_000 });
    await sleep(500);
    await signal('app', 'SIGTERM');
    await sleep(300);
    const during = await request(port, '/api/posts?limit=1');
    const inFlight = await slow;
    await lock;
    await recordResult('gracefulShutdown', { inFlightStatus: inFlight.status, newRequestStatus: during.status });
    expect(inFlight.status).toBe(200);
    expect(inFlight.json().posts).toBeInstanceOf(Array);
    expect([502, 503]).toContain(during.status);
    expect(during.json()).toMatchObject({ statusCode: during.status });
    await waitFor('the app is back', ready, { timeoutMs: 60_000 });
  });
});

describe('upstream keep-alive race', () => {
  it('after connections sit idle past nginx upstream keepalive_timeout (60 s), writes get no 502', async () => {
    // Open many upstream connections, then leave them idle.
    await runTraffic({ port, connections: 16, durationMs: 2_000, mix: [{ weight: 1, path: '/api/health/live' }] });
    await sleep(62_000);
    const burst = await Promise.all(
      Array.from({ length: 32 }, (_, n) =>
        request(port, '/api/posts', { method: 'POST', body: { author: 'idle', body: `after idle ${n}` } }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    await recordResult('keepAliveRace', {
      idleSeconds: 62,
      writes: statuses.length,
      non201: statuses.filter((s) => s !== 201).length,
    });
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
  });
});

describe('64 concurrent connections for 60 s of mixed reads and writes', () => {
  it('has zero errors', async () => {
    const result = await runTraffic({
      port,
      connections: 64,
      durationMs: 60_000,
      // Held connections: each client keeps its connection for the whole minute.
      keepAlive: true,
      mix: [
        { weight: 3, path: '/api/posts?limit=20' },
        { weight: 1, path: '/assets/app.js' },
        {
          weight: 1,
          path: '/api/posts',
          options: () => ({ method: 'POST', body: { author: 'load', body: 'sustained load' } }),
        },
      ],
    });
    await recordResult('sustainedLoad', {
      connections: 64,
      seconds: Math.round(result.durationMs / 1000),
      requests: result.total,
      requestsPerSecond: Math.round(result.total / (result.durationMs / 1000)),
      errors: errorCount(result),
      non2xx: result.failed - errorCount(result),
      p50Ms: Math.round(result.latencyMs.p50),
      p99Ms: Math.round(result.latencyMs.p99),
      maxMs: Math.round(result.latencyMs.max),
    });
    expect(result.total).toBeGreaterThan(0);
    expect(result.failed).toBe(0);
  });
});
