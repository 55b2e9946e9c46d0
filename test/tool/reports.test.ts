import { describe, expect, it } from 'vitest';
import { markdownTables, svgChart } from '../../scripts/tool/bench/report.js';
import { kneeOf, ratiosOf, ROUTES, type BenchReport, type Step } from '../../scripts/tool/bench/run.js';
import { parseWrkOutput } from '../../scripts/tool/bench/wrk.js';
import { formatDrill } from '../../scripts/tool/local/drill.js';

const result = (requestsPerSecond: number, errors = 0) => ({
  requests: requestsPerSecond * 5,
  requestsPerSecond,
  p50Ms: 1,
  p90Ms: 2,
  p99Ms: 3,
  maxMs: 4,
  errors,
  non2xx: 0,
});
const step = (connections: number, rps: number, errors = 0): Step => ({
  route: 'GET /api/posts',
  via: 'nginx',
  connections,
  result: result(rps, errors),
  appRssMiB: 100,
  dbCpuPercent: 10,
  logCpuMsPer1k: 20,
  shimCpuMsPer1k: 5,
});

describe('bench report', () => {
  it('parses the summary line wrk/report.lua prints', () => {
    const output =
      'Running 1s test\nWRK_JSON {"requests":500,"durationUs":2000000,"connectErrors":1,"readErrors":2,' +
      '"writeErrors":0,"timeouts":1,"non2xx":3,"p50Us":1500,"p90Us":2500,"p99Us":9000,"maxUs":12000}\n';
    expect(parseWrkOutput(output)).toEqual({
      requests: 500,
      requestsPerSecond: 250,
      p50Ms: 1.5,
      p90Ms: 2.5,
      p99Ms: 9,
      maxMs: 12,
      errors: 4,
      non2xx: 3,
    });
    expect(() => parseWrkOutput('wrk: connection refused')).toThrow(/wrk printed no summary/);
  });

  it('finds the knee: the fewest connections reaching 90 % of the peak, and the errors up to it', () => {
    const sweep = [step(1, 1000), step(2, 1800, 1), step(4, 2000), step(8, 1950, 5)];
    const { knee, errorsUpToKnee } = kneeOf(sweep);
    expect(knee.connections).toBe(2);
    expect(errorsUpToKnee).toBe(1);
  });

  it("works each ratio out per round, from that round's steps, then gives the median and range", () => {
    // Three rounds in which the API read through nginx and direct swing differently.
    const nginx = [1000, 3000, 2000];
    const direct = [1000, 2000, 4000];
    const rounds = [0, 1, 2].map((round) =>
      ROUTES.flatMap((route) =>
        route.via.map((via) => ({
          ...step(32, via === 'nginx' ? nginx[round]! : via === 'app direct' ? direct[round]! : 500),
          route: route.name,
          via,
        })),
      ),
    );
    const read = ratiosOf(rounds).find((r) => r.name.startsWith('API read: through nginx'));
    expect(read).toMatchObject({ value: 1, min: 0.5, max: 1.5, target: 0.85 });
  });

  it('renders the tables and the chart with every step', () => {
    const report: BenchReport = {
      startedAt: '2026-11-22T00:00:00.000Z',
      machine: { cpus: 2, cpuModel: 'test', loadAverage: [0, 0, 0], roundLoad: [1.5] },
      options: {
        seconds: 1,
        rounds: 1,
        warmupSeconds: 0,
        connections: 2,
        sweep: [1, 2],
        posts: 10,
        generatorCpus: '1',
      },
      seeded: { before: 0, inserted: 10 },
      steps: [step(2, 1234), { ...step(2, 2345), via: 'app direct' }],
      sweep: [step(1, 1000), step(2, 1900)],
      kneeConnections: 2,
      ratios: [
        { name: 'API read: through nginx ÷ direct to the app', value: 0.526, min: 0.4, max: 0.61, target: 0.85 },
      ],
      maxAppRssMiB: 100,
      sweepErrorsUpToKnee: 0,
      memory: [{ service: 'app', restMiB: 61.25, loadMiB: 80.5 }],
    };
    const md = markdownTables(report);
    expect(md).toContain('| app | 61.3 | 80.5 |');
    expect(md).toContain('| GET /api/posts | nginx | 1,234 |');
    expect(md).toContain('| GET /api/posts | app direct | 2,345 |');
    expect(md).toContain('| API read: through nginx ÷ direct to the app | 0.53 | 0.40–0.61 | ≥ 0.85 | no |');
    expect(md).toContain('Load average (1 min) as each round began: 1.50.');
    expect(md).toContain('Knee: 2 connections');
    const svg = svgChart(report);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect /g)?.length).toBeGreaterThanOrEqual(3);
  });
});

describe('drill table', () => {
  it('says whether each part came back by itself, the repair, and the lost writes', () => {
    const table = formatDrill([
      {
        part: 'app',
        action: 'kill',
        page: '200×4',
        api: '200×3 502×2',
        failed: 2,
        outageMs: 2_700,
        selfRecoveryMs: 2_800,
        repair: null,
        acknowledgedWrites: 10,
        lostWrites: 0,
      },
      {
        part: 'db',
        action: 'stop',
        page: '200×4',
        api: '503×9',
        failed: 9,
        outageMs: 5_000,
        selfRecoveryMs: null,
        repair: { what: 'docker start db', ms: 2_000 },
        acknowledgedWrites: 3,
        lostWrites: 0,
      },
    ]);
    expect(table).toContain('| app | crash (`kill -9`) | 200×4 | 200×3 502×2 | 2.7 s | yes, 2.8 s | – | 0 of 10 |');
    expect(table).toContain('| db | `docker stop` | 200×4 | 503×9 | 5.0 s | no | docker start db: 2.0 s | 0 of 3 |');
  });
});
