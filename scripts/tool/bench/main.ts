// `npm run bench` (scripts/bench): measures the stack (see README, "Performance"). Options: --help.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wholeNumber } from '../core/args.js';
import { imagesOf, loadEnv } from '../core/env.js';
import { replaceSection } from '../core/markdown.js';
import { REPO_ROOT } from '../core/paths.js';
import { markdownReport, markdownTables, svgChart } from './report.js';
import { runBench, type BenchReport } from './run.js';

const PUBLISHED = path.join(REPO_ROOT, 'scripts/tool/bench/results');

function writeResults(dir: string, report: BenchReport, command: string, log: (line: string) => void): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.md'), markdownReport(report, 'latest.svg', command));
  writeFileSync(path.join(dir, 'latest.svg'), svgChart(report));
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`results written to ${path.relative(REPO_ROOT, dir) || '.'}/latest.{md,svg,json}`);
}

/** The README's Performance section shows the latest published tables. */
function publishToReadme(report: BenchReport, command: string): void {
  const readmePath = path.join(REPO_ROOT, 'README.md');
  const body =
    `Measured ${report.startedAt} with \`${command}\` (${os.cpus().length} cores shared with the load generator):\n\n` +
    `${markdownTables(report)}\n\n![throughput per route and the connection sweep](scripts/tool/bench/results/latest.svg)\n`;
  writeFileSync(readmePath, replaceSection(readFileSync(readmePath, 'utf8'), 'bench', body));
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
    generatorImage: `webstack/wrk:${images.tag}`,
  });

  writeResults(values.out ?? path.join(REPO_ROOT, 'test/results/bench'), report, command, log);
  if (values.publish) {
    writeResults(PUBLISHED, report, command, log);
    publishToReadme(report, command);
    log('README.md Performance section updated');
  }
  process.stdout.write(`\n${markdownTables(report)}\n`);
}
