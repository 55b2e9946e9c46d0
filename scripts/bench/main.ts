// `npm run bench`: measures the stack (see README, "Performance"). Options: --help.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, parseEnv } from 'node:util';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

// The image choice scripts/up recorded in .env (official or local stand-ins), unless the
// environment says otherwise; read before the modules that resolve image names load.
const DOTENV = path.join(REPO, '.env');
if (existsSync(DOTENV)) {
  const saved = parseEnv(readFileSync(DOTENV, 'utf8'));
  for (const key of ['MYSQL_IMAGE', 'NGINX_IMAGE', 'NODE_IMAGE', 'IMAGE_TAG', 'BUILD_CA_BUNDLE']) {
    if (process.env[key] === undefined && saved[key] !== undefined) process.env[key] = saved[key];
  }
}

const { values } = parseArgs({
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
    out: { type: 'string', default: path.join(REPO, 'test/results/bench') },
    publish: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`npm run bench -- [options]
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
  --publish             also write scripts/bench/results/latest.{md,svg} and the README section
`);
  process.exit(0);
}

const wholeNumber = (name: string, value: string, min = 1) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, not "${value}"`);
  return n;
};

const { runBench } = await import('./run.js');
const { markdownReport, markdownTables, svgChart } = await import('./report.js');
const { images } = await import('../../test/support/images.js');

const cpus = os.cpus().length;
const generatorCpus = values['generator-cpus'] ?? (cpus >= 2 ? String(cpus - 1) : 'none');
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const started = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

const report = await runBench({
  project: values.project,
  build: !values['no-build'],
  keep: values.keep,
  imageTag: process.env.IMAGE_TAG ?? 'latest',
  nginxBaseImage: images.nginxBase,
  log,
  seconds: wholeNumber('seconds', values.seconds),
  rounds: wholeNumber('rounds', values.rounds),
  warmupSeconds: wholeNumber('warmup', values.warmup, 0),
  connections: wholeNumber('connections', values.connections),
  sweep: values.sweep.split(',').map((c) => wholeNumber('sweep', c)),
  posts: wholeNumber('posts', values.posts, 0),
  generatorCpus: generatorCpus === 'none' ? undefined : generatorCpus,
  generatorImage: `webstack/wrk:${process.env.IMAGE_TAG ?? 'latest'}`,
});

const write = (dir: string) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.md'), markdownReport(report, 'latest.svg', command));
  writeFileSync(path.join(dir, 'latest.svg'), svgChart(report));
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`results written to ${path.relative(REPO, dir) || '.'}/latest.{md,svg,json}`);
};
write(values.out);

if (values.publish) {
  write(path.join(REPO, 'scripts/bench/results'));
  // The README's Performance section shows the latest published tables, between markers.
  const readmePath = path.join(REPO, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const section = /(<!-- bench:begin -->\n)[\s\S]*?(<!-- bench:end -->)/;
  if (!section.test(readme)) throw new Error('README.md has no <!-- bench:begin --> … <!-- bench:end --> section');
  const body = `Measured ${report.startedAt} with \`${command}\` (${cpus} cores shared with the load generator):\n\n${markdownTables(report)}\n\n![throughput per route and the connection sweep](scripts/bench/results/latest.svg)\n\n`;
  writeFileSync(
    readmePath,
    readme.replace(section, (_m, begin: string, end: string) => begin + body + end),
  );
  log('README.md Performance section updated');
}

process.stdout.write(`\n${markdownTables(report)}\n`);
