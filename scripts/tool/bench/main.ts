// `npm run bench` (scripts/bench): measures the stack. Options: --help.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { wholeNumber } from '../core/args.js';
import { imagesOf, loadEnv } from '../core/env.js';
import { replaceSection } from '../core/markdown.js';
import { REPO_ROOT } from '../core/paths.js';
import { markdownReport, markdownTables, svgChart } from './report.js';
import { runBench, type BenchReport } from './run.js';

const PUBLISHED = path.join(REPO_ROOT, 'scripts/tool/bench/results');
/** The docs page whose `bench` section `--publish` rewrites. */
export const PERFORMANCE_PAGE = 'docs/performance.md';

const HELP = `npm run bench -- [options]
  --project NAME        compose project to measure; brought up from docker-compose.yml when
                        not running, and taken down after (default webstack-bench). A running
                        stack gets the seed posts and the POSTed ones: never one with real data
  --keep                leave a stack this run brought up running
  --no-build            do not build the images when bringing the stack up
  --seconds N           measured seconds per step (5); --warmup N seconds before each (2)
  --rounds N            times the per-route table is measured, interleaved; median shown (3)
  --connections N       connections for the per-route table (32)
  --sweep LIST          connection counts of the sweep (1,2,4,8,16,32,64,128,256)
  --posts N             posts in the table before the run (100000; topped up once)
  --generator-cpus SET  CPUs wrk is pinned to, "none" to let it float (default: the last CPU)
  --out DIR             results folder (test/results/bench)
  --publish             also write scripts/tool/bench/results/latest.{md,svg} and the tables in docs/performance.md
`;

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

export async function bench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      project: { type: 'string', default: 'webstack-bench' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      sweep: { type: 'string', default: '1,2,4,8,16,32,64,128,256' },
      posts: { type: 'string', default: '100000' },
      'generator-cpus': { type: 'string' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'test/results/bench') },
      publish: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
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

  writeResults(values.out, report, command, log);
  if (values.publish) {
    writeResults(PUBLISHED, report, command, log);
    publishToDocs(report, command);
    log(`${PERFORMANCE_PAGE}: the published tables updated`);
  }
  process.stdout.write(`\n${markdownTables(report)}\n`);
}
