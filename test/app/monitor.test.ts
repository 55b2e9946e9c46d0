import { describe, expect, it } from 'vitest';
import { PartTracker } from '../../app/src/monitor/history.js';
import { NginxLog, parseNginxDatagram } from '../../app/src/monitor/nginx-log.js';
import { parsePrometheusText } from '../../app/src/monitor/prometheus-text.js';
import { buckets, quantileBetween } from '../../app/src/monitor/quantiles.js';
import { parseStubStatus } from '../../app/src/monitor/sources.js';

describe("the monitor's pure parts", () => {
  it("reads nginx's syslog datagrams, proxied or not, with spaces in the URI", () => {
    const proxied = parseNginxDatagram(
      '<190>Nov 22 23:43:56 nginx: 200|0.012|0.001|0.011|abc123|GET|/api/posts?limit=3',
      1,
    );
    expect(proxied).toEqual({
      at: 1,
      status: 200,
      requestMs: 12,
      upstreamConnectMs: 1,
      upstreamHeaderMs: 11,
      id: 'abc123',
      method: 'GET',
      uri: '/api/posts?limit=3',
    });
    const local = parseNginxDatagram('<190>Nov  2 01:02:03 nginx: 404|0.000|-|-|id2|GET|/a b|c', 2);
    expect(local).toMatchObject({ status: 404, upstreamConnectMs: undefined, uri: '/a b|c' });
    // Two upstream tries: the last one is the one that answered.
    expect(
      parseNginxDatagram('<190>Nov 22 23:43:56 nginx: 200|2.1|2.000, 0.001|-, 0.002|id3|GET|/api/x', 3),
    ).toMatchObject({
      upstreamConnectMs: 1,
      upstreamHeaderMs: 2,
      id: 'id3',
      uri: '/api/x',
    });
    expect(parseNginxDatagram('not syslog', 4)).toBeUndefined();
  });

  it('keeps a bounded window of nginx requests, findable by id', () => {
    const seen: string[] = [];
    const log = new NginxLog(3, (r) => seen.push(r.id));
    for (let i = 0; i < 5; i++)
      log.add({ at: i * 1000, status: 200, requestMs: 1, id: `r${i}`, method: 'GET', uri: '/' });
    expect(seen).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(log.get('r1')).toBeUndefined();
    expect(log.get('r4')?.at).toBe(4000);
    expect(log.since(1500, 4000).map((r) => r.id)).toEqual(['r3', 'r4']);
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
});
