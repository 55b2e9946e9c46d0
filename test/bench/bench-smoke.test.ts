import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownReport, svgChart } from '../../scripts/tool/bench/report.js';
import { benchImages, ROUTES, runBench, type BenchReport } from '../../scripts/tool/bench/run.js';
import { docker } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';

// The real bench code for a few seconds per step: proves it runs and reports, never how fast.
const images = imagesOf(process.env);
const project = `webstack-test-bench-${images.tag}`;
const POSTS = 1_000;
let report: BenchReport;

beforeAll(async () => {
  report = await runBench({
    project,
    build: false,
    keep: false,
    env: process.env,
    nginxBaseImage: images.nginxBase,
    log: () => undefined,
    seconds: 1,
    rounds: 1,
    warmupSeconds: 0,
    connections: 2,
    sweep: [1, 4],
    posts: POSTS,
    generatorCpus: undefined,
    ...benchImages(images.tag),
  });
}, 600_000);

afterAll(async () => {
  // Nothing the bench started outlives it.
  const left = (label: string) => docker.listContainers({ all: true, filters: { label: [label] } });
  expect(await left(`webstack.bench=${project}`)).toEqual([]);
  expect(await left(`com.docker.compose.project=${project}`)).toEqual([]);
});

const allSteps = () => [...report.steps, ...report.sweep];

describe('npm run bench (smoke: a few seconds, behaviour only)', () => {
  it('measures every route on each of its paths, then the sweep', () => {
    const expected = ROUTES.flatMap((r) => r.via.map((via) => `${r.name} via ${via}`));
    expect(report.steps.map((s) => `${s.route} via ${s.via}`)).toEqual(expected);
    expect(report.sweep.map((s) => s.connections)).toEqual([1, 4]);
  });

  it('every request got a 2xx answer, with finite figures', () => {
    for (const step of allSteps()) {
      const r = step.result;
      expect(r.requests, `${step.route} via ${step.via}`).toBeGreaterThan(0);
      expect(r.errors + r.non2xx, `${step.route} via ${step.via}`).toBe(0);
      for (const value of [
        r.requestsPerSecond,
        r.p50Ms,
        r.p99Ms,
        r.maxMs,
        step.dbCpuPercent,
        step.logCpuMsPer1k,
        step.shimCpuMsPer1k,
      ]) {
        expect(Number.isFinite(value)).toBe(true);
      }
      expect(r.p50Ms).toBeLessThanOrEqual(r.p99Ms);
      expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs);
      // A Node process with Fastify and mysql2 loaded: tens of MiB, not zero.
      expect(step.appRssMiB).toBeGreaterThan(20);
    }
  });

  it('seeds the posts table on a fresh stack and works out ratios and the knee', () => {
    expect(report.seeded).toEqual({ before: 0, inserted: POSTS });
    expect(report.ratios.length).toBe(11);
    for (const ratio of report.ratios) expect(ratio.value, ratio.name).toBeGreaterThan(0);
    expect([1, 4]).toContain(report.kneeConnections);
    expect(report.sweepErrorsUpToKnee).toBe(0);
  });

  it("reads each of the stack's containers' memory at rest and under load", () => {
    expect(report.memory.map((m) => m.service)).toEqual(['server', 'db', 'app', 'nginx', 'certs', 'monitor']);
    for (const m of report.memory) {
      expect(m.restMiB, m.service).toBeGreaterThan(0);
      expect(m.loadMiB, m.service).toBeGreaterThan(0);
    }
    // The app and the database hold tens of MiB at least; a sleeping namespace owner far less.
    const app = report.memory.find((m) => m.service === 'app')!;
    const server = report.memory.find((m) => m.service === 'server')!;
    expect(app.loadMiB).toBeGreaterThan(server.loadMiB);
  });

  it('writes a markdown report with every row and an SVG chart', () => {
    const md = markdownReport(report, 'latest.svg', 'npm run bench');
    for (const step of report.steps) expect(md).toContain(`| ${step.route} | ${step.via} |`);
    for (const ratio of report.ratios) expect(md).toContain(`| ${ratio.name} |`);
    for (const m of report.memory) expect(md).toContain(`| ${m.service} | `);
    expect(md).toContain('![throughput per route and the connection sweep](latest.svg)');
    const svg = svgChart(report);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<rect x="330"/g)).toHaveLength(report.steps.length);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});
