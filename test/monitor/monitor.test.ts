import { appendFile, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PartTracker } from '../../nginx/monitor/src/history.js';
import { NginxLog, parseNginxLine, StatusLogReader } from '../../nginx/monitor/src/nginx-log.js';
import { parsePrometheusText } from '../../nginx/monitor/src/prometheus-text.js';
import { buckets, quantileBetween } from '../../nginx/monitor/src/quantiles.js';
import { hitRatio } from '../../nginx/monitor/src/registry.js';
import { DB_STATUS, parseStubStatus, type DbStatus } from '../../nginx/monitor/src/sources.js';

describe("the monitor's pure parts", () => {
  it("reads nginx's status lines, proxied or not, with spaces and | in the URI", () => {
    const proxied = parseNginxLine('1763858636.250|200|0.012|0.001|0.011|abc123|GET|/api/posts?limit=3');
    expect(proxied).toEqual({
      at: 1763858636250,
      status: 200,
      requestMs: 12,
      upstreamConnectMs: 1,
      upstreamHeaderMs: 11,
      id: 'abc123',
      method: 'GET',
      uri: '/api/posts?limit=3',
    });
    const local = parseNginxLine('2.000|404|0.000|-|-|id2|GET|/a b|c');
    expect(local).toMatchObject({ at: 2000, status: 404, upstreamConnectMs: undefined, uri: '/a b|c' });
    // Two upstream tries: the last one is the one that answered.
    expect(parseNginxLine('3.000|200|2.1|2.000, 0.001|-, 0.002|id3|GET|/api/x')).toMatchObject({
      upstreamConnectMs: 1,
      upstreamHeaderMs: 2,
      id: 'id3',
      uri: '/api/x',
    });
    expect(parseNginxLine('not a status line')).toBeUndefined();
    expect(parseNginxLine('x|200|0.1|-|-|id|GET|/')).toBeUndefined();
    expect(parseNginxLine('1.0|2xx|0.1|-|-|id|GET|/')).toBeUndefined();
  });

  it('keeps a bounded window of nginx requests in the order they ended, findable by id', () => {
    const seen: string[] = [];
    const log = new NginxLog(3, (r) => seen.push(r.id));
    // Two workers' buffers: the second batch holds a request that ended earlier.
    const line = (at: number, id: string) => `${at / 1000}|200|0.001|-|-|${id}|GET|/`;
    expect(log.addLines([line(0, 'r0'), line(1000, 'r1'), line(3000, 'r3'), 'garbage'])).toBe(3);
    expect(log.addLines([line(2000, 'r2'), line(4000, 'r4')])).toBe(2);
    expect(seen).toEqual(['r0', 'r1', 'r3', 'r2', 'r4']);
    expect(log.get('r1')).toBeUndefined();
    expect(log.get('r4')?.at).toBe(4000);
    expect(log.between(1500, 3000).map((r) => r.id)).toEqual(['r2', 'r3']);
    expect(log.latest(2).map((r) => r.id)).toEqual(['r3', 'r4']);
  });

  it('follows the status log: new whole lines only, truncating past its bound and after others truncate it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'webstack-status-log-'));
    try {
      const file = path.join(dir, 'requests.log');
      const reader = new StatusLogReader(file, 20);
      // Not there yet (nginx not started): nothing, no error.
      expect(await reader.read()).toEqual([]);
      // What was there before the first read is from before the monitor: skipped.
      await writeFile(file, 'old line\n');
      expect(await reader.read()).toEqual([]);
      await appendFile(file, 'one\ntw');
      expect(await reader.read()).toEqual(['one']);
      // Past the bound (20 bytes) but mid-line: not truncated yet.
      expect((await stat(file)).size).toBe(15);
      await appendFile(file, 'o\nthree and more\n');
      expect(await reader.read()).toEqual(['two', 'three and more']);
      // Read to the end, whole lines, past the bound: emptied; the next lines start at 0.
      expect((await stat(file)).size).toBe(0);
      await appendFile(file, 'four\n');
      expect(await reader.read()).toEqual(['four']);
      // Emptied by someone else (seen while the file is shorter than what was read): from the start.
      await truncate(file, 0);
      await appendFile(file, '5\n');
      expect(await reader.read()).toEqual(['5']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses stub_status and refuses what is not one', () => {
    expect(
      parseStubStatus(
        'Active connections: 2 \nserver accepts handled requests\n 10 11 12 \nReading: 0 Writing: 1 Waiting: 1 \n',
      ),
    ).toEqual({ active: 2, accepted: 10, handled: 11, requests: 12, reading: 0, writing: 1, waiting: 1 });
    expect(() => parseStubStatus('<html>502</html>')).toThrow(/unexpected stub_status/);
  });

  it('takes quantiles of the observations between two scrapes of a histogram', () => {
    const scrape = (counts: number[]) =>
      parsePrometheusText(
        ['0.001', '0.01', '0.1', '+Inf'].map((le, i) => `h_bucket{route="/a",le="${le}"} ${counts[i]}`).join('\n'),
      );
    const before = buckets(scrape([0, 0, 0, 0]), 'h', () => true);
    // 100 observations: 50 under 1 ms, 40 more under 10 ms, 10 more under 100 ms.
    const after = buckets(scrape([50, 90, 100, 100]), 'h', () => true);
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.001);
    expect(quantileBetween(before, after, 0.99)).toBeCloseTo(0.01 + 0.09 * 0.9);
    expect(quantileBetween(after, after, 0.5)).toBeUndefined();
  });

  it('counts outages and restarts of a part, not its first start', () => {
    const part = new PartTracker();
    expect(part.observe(false, 0)).toEqual({ cameBack: false, restarted: false });
    expect(part.observe(true, 1000, 900)).toEqual({ cameBack: false, restarted: false });
    expect(part.history).toMatchObject({ up: true, upSince: 900, restarts: 0 });
    expect(part.history.lastOutage).toBeUndefined();
    part.observe(false, 5000);
    expect(part.history.lastOutage).toEqual({ from: 5000 });
    expect(part.history.upSince).toBeUndefined();
    expect(part.observe(true, 8000, 7500)).toEqual({ cameBack: true, restarted: true });
    expect(part.history).toMatchObject({ restarts: 1, upSince: 7500, lastOutage: { from: 5000, to: 8000 } });
    // Restarted between two checks: never seen down, still counted.
    expect(part.observe(true, 20000, 19000)).toEqual({ cameBack: false, restarted: true });
    expect(part.history.restarts).toBe(2);
  });

  it('keeps the buffer pool hit ratio a share, also on a young server with more disk reads than requests', () => {
    const status = (requests: number, reads: number): DbStatus => ({
      ...(Object.fromEntries(DB_STATUS.map((name) => [name, 0])) as Record<(typeof DB_STATUS)[number], number>),
      Innodb_buffer_pool_read_requests: requests,
      Innodb_buffer_pool_reads: reads,
      dataBytes: 0,
    });
    expect(hitRatio(status(1000, 10))).toBeCloseTo(0.99);
    // The figures of a MariaDB 11.8 four seconds after start.
    expect(hitRatio(status(19, 169))).toBe(0);
    expect(hitRatio(status(0, 169))).toBe(1);
  });
});
