// `npm run bench` (scripts/bench): measures the stack. Options: --help.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wholeNumber } from '../core/args.js';
import { imagesOf, loadEnv } from '../core/env.js';
import { replaceSection } from '../core/markdown.js';
import { REPO_ROOT } from '../core/paths.js';
import { markdownReport, markdownTables, svgChart } from './report.js';
import { benchImages, runBench, type BenchReport } from './run.js';

const PUBLISHED = path.join(REPO_ROOT, 'scripts/tool/bench/results');
/** The docs page whose `bench` section `--publish` rewrites. */
export const PERFORMANCE_PAGE = 'docs/performance.md';

function writeResults(dir: string, report: BenchReport, command: string, log: (line: string) => void): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.md'), markdownReport(report, 'latest.svg', command));
  writeFileSync(path.join(dir, 'latest.svg'), svgChart(report));
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`results written to ${path.relative(REPO_ROOT, dir) || '.'}/latest.{md,svg,json}`);
}

/** The performance page shows the latest published tables, and the chart beside them. */
function publishToDocs(report: BenchReport, command: string): void {
  const page = path.join(REPO_ROOT, PERFORMANCE_PAGE);
  const chart = path.relative(path.dirname(page), path.join(PUBLISHED, 'latest.svg'));
  const body =
    `Measured ${report.startedAt} with \`${command}\` (${os.cpus().length} cores shared with the load generator):\n\n` +
    `${markdownTables(report)}\n\n![throughput per route and the connection sweep](${chart})\n`;
  writeFileSync(page, replaceSection(readFileSync(page, 'utf8'), 'bench', body));
}

/** The bench command's options, as its definition in the registry parses them. */
export interface BenchOptions {
  project: string;
  keep: boolean;
  'no-build': boolean;
  seconds: string;
  rounds: string;
  warmup: string;
  connections: string;
  sweep: string;
  posts: string;
  'generator-cpus'?: string;
  out?: string;
  publish: boolean;
}

export async function bench(values: BenchOptions, args: string[]): Promise<void> {
  // The image choice scripts/up recorded in .env (official or local stand-ins).
  const env = loadEnv();
  const images = imagesOf(env);
  const cpus = os.cpus().length;
  const generatorCpus = values['generator-cpus'] ?? (cpus >= 2 ? String(cpus - 1) : 'none');
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

  const report = await runBench({
    project: values.project,
    build: !values['no-build'],
    keep: values.keep,
    env,
    nginxBaseImage: images.nginxBase,
    log,
    seconds: wholeNumber('seconds', values.seconds, 5),
    rounds: wholeNumber('rounds', values.rounds, 3),
    warmupSeconds: wholeNumber('warmup', values.warmup, 2, 0),
    connections: wholeNumber('connections', values.connections, 32),
    sweep: values.sweep.split(',').map((c) => wholeNumber('sweep', c, 1)),
    posts: wholeNumber('posts', values.posts, 100_000, 0),
    generatorCpus: generatorCpus === 'none' ? undefined : generatorCpus,
    ...benchImages(images.tag),
  });

  writeResults(values.out ?? path.join(REPO_ROOT, 'test/results/bench'), report, command, log);
  if (values.publish) {
    writeResults(PUBLISHED, report, command, log);
    publishToDocs(report, command);
    log(`${PERFORMANCE_PAGE}: the published tables updated`);
  }
  process.stdout.write(`\n${markdownTables(report)}\n`);
}
