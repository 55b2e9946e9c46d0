import os from 'node:os';
import type Docker from 'dockerode';
import { ensureBaseImages } from '../core/base-images.js';
import { buildImage, cpuTimeNs, findServiceContainer, memoryMiB, peakRssMiB, resetPeakRss } from '../core/docker.js';
import { cpuTimeMs, logPipelinePids } from './log-pipeline.js';
import {
  BARE_FASTIFY_PORT,
  BARE_NGINX_PORT,
  GUNICORN_EXAMPLE,
  GUNICORN_NGINX_PORT,
  NO_STATUS_LOG_NGINX_PORT,
  TWO_APPS_NGINX_PORT,
  UNMETERED_APP_PORT,
  UNLOGGED_APP_PORT,
  UNLOGGED_NGINX_PORT,
  openStack,
  seedPosts,
  type BenchStack,
  type StackOptions,
} from './stack.js';
import { buildGenerator, runWrk, type Generator, type WrkResult } from './wrk.js';

export interface BenchOptions extends StackOptions {
  /** Measured seconds per step, after `warmupSeconds` of the same load. */
  seconds: number;
  /**
   * Times the per-route table is measured, interleaved; each step reports its median
   * round, so a burst of someone else's load on the machine skews one round, not a ratio.
   */
  rounds: number;
  warmupSeconds: number;
  /** Connections for the per-route table. */
  connections: number;
  /** Connection counts of the sweep on the API read route. */
  sweep: number[];
  /** Posts the table holds before the run (topped up once, never removed). */
  posts: number;
  /** CPUs the load generator is pinned to, or undefined to let it float. */
  generatorCpus: string | undefined;
  generatorImage: string;
  /** The Gunicorn example's image, built by the bench from examples/gunicorn. */
  gunicornImage: string;
}

/** Where the load goes in: the published port from the host, or a process inside the namespace. */
export type Via =
  | 'published port'
  | 'nginx'
  | 'app direct'
  | 'app direct, no metrics'
  | 'bare nginx'
  | 'nginx, 2 apps'
  | 'nginx, logging off'
  | 'app direct, logging off'
  | 'nginx, no status log'
  | 'bare Fastify'
  | 'nginx, Gunicorn example';

export interface Step {
  route: string;
  via: Via;
  connections: number;
  result: WrkResult;
  /** Peak RSS of the app process(es) during the step, MiB (the larger of two with 2 apps). */
  appRssMiB: number;
  /** Database CPU during the step, percent of one core. */
  dbCpuPercent: number;
  /** CPU of dockerd plus the stack's containerd-shims during the step, ms per 1,000 requests. */
  logCpuMsPer1k: number;
  /** The shims' part alone (dockerd also works for the machine's other containers). */
  shimCpuMsPer1k: number;
}

export interface Ratio {
  name: string;
  /** The median of the rounds' values: each round's ratio comes from that round's two steps. */
  value: number;
  /** The lowest and highest round. */
  min: number;
  max: number;
  /** Minimum the issue asks for, if any. */
  target?: number;
}

/** One of the stack's containers: its memory at rest, and the most seen right after a load step. */
export interface ContainerMemory {
  service: string;
  restMiB: number;
  loadMiB: number;
}

export interface BenchReport {
  startedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    loadAverage: number[];
    /** The 1-minute load average as each round of the per-route table began. */
    roundLoad: number[];
  };
  options: Pick<
    BenchOptions,
    'seconds' | 'rounds' | 'warmupSeconds' | 'connections' | 'sweep' | 'posts' | 'generatorCpus'
  >;
  seeded: { before: number; inserted: number };
  steps: Step[];
  sweep: Step[];
  /** Smallest connection count of the sweep reaching 90 % of its peak throughput. */
  kneeConnections: number;
  ratios: Ratio[];
  maxAppRssMiB: number;
  sweepErrorsUpToKnee: number;
  memory: ContainerMemory[];
}

/** The images the bench builds for itself, under the stack's tag. */
export const benchImages = (tag: string) => ({
  generatorImage: `webstack/wrk:${tag}`,
  gunicornImage: `webstack/bench-gunicorn:${tag}`,
});

export const POST_BODY = JSON.stringify({ author: 'bench', body: 'A post written by the benchmark, about this long.' });
export const STATIC_ASSET = '/assets/style.css';
export const API_READ = '/api/posts';

interface Route {
  name: string;
  path: string;
  body?: string;
  via: Via[];
}

export const ROUTES: Route[] = [
  {
    name: 'static asset',
    path: STATIC_ASSET,
    via: ['published port', 'nginx', 'bare nginx', 'nginx, logging off', 'nginx, no status log'],
  },
  { name: 'front page', path: '/', via: ['published port', 'nginx'] },
  {
    name: 'GET /api/posts',
    path: API_READ,
    via: [
      'published port',
      'nginx',
      'app direct',
      'app direct, no metrics',
      'nginx, 2 apps',
      'nginx, logging off',
      'app direct, logging off',
      'bare Fastify',
    ],
  },
  // The Gunicorn example's equivalent of GET /api/posts: its newest 20 entries as JSON.
  { name: 'GET /api/entries (Gunicorn)', path: '/api/entries?limit=20', via: ['nginx, Gunicorn example'] },
  { name: 'POST /api/posts', path: API_READ, body: POST_BODY, via: ['published port', 'nginx', 'app direct'] },
  { name: 'GET /api/health/live', path: '/api/health/live', via: ['published port', 'nginx', 'app direct'] },
];

function target(stack: BenchStack, via: Via): { network: string; base: string } {
  switch (via) {
    case 'published port':
      return { network: 'host', base: `https://127.0.0.1:${stack.publishedPort}` };
    case 'nginx':
      return { network: stack.namespace, base: 'https://127.0.0.1:443' };
    case 'app direct':
      return { network: stack.namespace, base: 'http://127.0.0.1:5000' };
    case 'app direct, no metrics':
      return { network: stack.namespace, base: `http://127.0.0.1:${UNMETERED_APP_PORT}` };
    case 'bare nginx':
      return { network: stack.namespace, base: `https://127.0.0.1:${BARE_NGINX_PORT}` };
    case 'nginx, 2 apps':
      return { network: stack.namespace, base: `https://127.0.0.1:${TWO_APPS_NGINX_PORT}` };
    case 'nginx, logging off':
      return { network: stack.namespace, base: `https://127.0.0.1:${UNLOGGED_NGINX_PORT}` };
    case 'app direct, logging off':
      return { network: stack.namespace, base: `http://127.0.0.1:${UNLOGGED_APP_PORT}` };
    case 'nginx, no status log':
      return { network: stack.namespace, base: `https://127.0.0.1:${NO_STATUS_LOG_NGINX_PORT}` };
    case 'bare Fastify':
      return { network: stack.namespace, base: `http://127.0.0.1:${BARE_FASTIFY_PORT}` };
    case 'nginx, Gunicorn example':
      return { network: stack.namespace, base: `https://127.0.0.1:${GUNICORN_NGINX_PORT}` };
  }
}

const rps = (steps: Step[], route: string, via: Via) => {
  const step = steps.find((s) => s.route === route && s.via === via);
  if (!step) throw new Error(`no step ${route} via ${via}`);
  return step.result.requestsPerSecond;
};

/** The round with the median throughput (the upper one of an even count). */
function medianStep(rounds: Step[]): Step {
  const sorted = [...rounds].sort((a, b) => a.result.requestsPerSecond - b.result.requestsPerSecond);
  return sorted[Math.floor(sorted.length / 2)] as Step;
}

/** What every step of one run shares. */
interface Context {
  stack: BenchStack;
  generator: Generator;
  opts: BenchOptions;
  /** The app process(es) each way in serves from: whose peak RSS a step reports. */
  appsBehind: Record<Via, Docker.Container[]>;
  /** Every container of this stack that serves the load (whose containerd-shims count), not wrk's. */
  stackContainerIds: string[];
  /** The stack's own services, whose memory is read after each round and the sweep, with the most seen. */
  memory: Map<string, { container: Docker.Container; restMiB: number; loadMiB: number }>;
}

/** The stack's services whose memory the report shows (the bench's extra processes aside). */
const MEMORY_SERVICES = ['server', 'db', 'app', 'nginx', 'certs', 'monitor'];

/**
 * One load step: warm-up, then measured, with the app's peak RSS, the database's CPU and
 * the CPU of Docker's log pipeline (dockerd + this stack's shims) per 1,000 requests.
 */
async function measure(ctx: Context, route: Route, via: Via, connections: number): Promise<Step> {
  const { stack, generator, opts } = ctx;
  const { network, base } = target(stack, via);
  const apps = ctx.appsBehind[via];
  const load = { network, url: base + route.path, connections, ...(route.body ? { body: route.body } : {}) };
  if (opts.warmupSeconds > 0) await runWrk(generator, { ...load, seconds: opts.warmupSeconds });
  await Promise.all(apps.map(resetPeakRss));
  const { dockerd, shims } = logPipelinePids(ctx.stackContainerIds);
  const cpuBefore = await cpuTimeNs(stack.db);
  const [dockerdBefore, shimsBefore] = [cpuTimeMs(dockerd), cpuTimeMs(shims)];
  const started = process.hrtime.bigint();
  const result = await runWrk(generator, { ...load, seconds: opts.seconds });
  const wallNs = Number(process.hrtime.bigint() - started);
  // Read before anything else the bench does here (docker exec, stats) makes dockerd work.
  const [dockerdMs, shimsMs] = [cpuTimeMs(dockerd) - dockerdBefore, cpuTimeMs(shims) - shimsBefore];
  const per1k = (ms: number) => (ms / Math.max(result.requests, 1)) * 1000;
  const dbCpuPercent = (((await cpuTimeNs(stack.db)) - cpuBefore) / wallNs) * 100;
  const appRssMiB = Math.max(...(await Promise.all(apps.map(peakRssMiB))));
  opts.log(
    `${route.name.padEnd(21)} ${via.padEnd(15)} c=${String(connections).padStart(3)} ` +
      `${result.requestsPerSecond.toFixed(0).padStart(6)} req/s  p99 ${result.p99Ms.toFixed(1)} ms  ` +
      `errors ${result.errors}  non-2xx ${result.non2xx}`,
  );
  return {
    route: route.name,
    via,
    connections,
    result,
    appRssMiB,
    dbCpuPercent,
    logCpuMsPer1k: per1k(dockerdMs + shimsMs),
    shimCpuMsPer1k: per1k(shimsMs),
  };
}

/**
 * Each service's memory right after a round of load, the most seen kept. Once per round, not
 * per step: a stats call costs dockerd work, which the steps count as the log pipeline's.
 */
async function readMemoryUnderLoad(ctx: Context): Promise<void> {
  for (const entry of ctx.memory.values()) entry.loadMiB = Math.max(entry.loadMiB, await memoryMiB(entry.container));
}

/** The ratios the issue sets targets for, and the ones that explain them, from one round's steps. */
function roundRatios(steps: Step[]): Omit<Ratio, 'min' | 'max'>[] {
  const read = 'GET /api/posts';
  const asset = 'static asset';
  return [
    {
      name: 'API read: through nginx (HTTPS) ÷ direct to the app (HTTP)',
      value: rps(steps, read, 'nginx') / rps(steps, read, 'app direct'),
      target: 0.85,
    },
    {
      name: 'static asset: our nginx ÷ bare stock nginx, both over HTTPS',
      value: rps(steps, asset, 'nginx') / rps(steps, asset, 'bare nginx'),
      target: 0.9,
    },
    {
      name: 'API read: published port ÷ inside the namespace',
      value: rps(steps, read, 'published port') / rps(steps, read, 'nginx'),
    },
    {
      name: 'static asset: published port ÷ inside the namespace',
      value: rps(steps, asset, 'published port') / rps(steps, asset, 'nginx'),
    },
    { name: 'API read: 2 app processes ÷ 1', value: rps(steps, read, 'nginx, 2 apps') / rps(steps, read, 'nginx') },
    {
      name: 'API read through nginx: logging on ÷ off',
      value: rps(steps, read, 'nginx') / rps(steps, read, 'nginx, logging off'),
    },
    {
      name: 'static asset: logging on ÷ off',
      value: rps(steps, asset, 'nginx') / rps(steps, asset, 'nginx, logging off'),
    },
    {
      name: 'API read, direct to the app: with metrics and Server-Timing ÷ without',
      value: rps(steps, read, 'app direct') / rps(steps, read, 'app direct, no metrics'),
    },
    {
      name: 'API read, direct: the app ÷ a bare Fastify + mysql2 server (same query, pool and response schema)',
      value: rps(steps, read, 'app direct') / rps(steps, read, 'bare Fastify'),
      target: 0.9,
    },
    {
      name: 'API read through the same nginx: the sample (Fastify, mysql2) ÷ the Gunicorn example (Flask, PyMySQL)',
      value: rps(steps, read, 'nginx') / rps(steps, 'GET /api/entries (Gunicorn)', 'nginx, Gunicorn example'),
      target: 3,
    },
    {
      name: "static asset: the monitor's status log on ÷ off",
      value: rps(steps, asset, 'nginx') / rps(steps, asset, 'nginx, no status log'),
    },
  ];
}

/**
 * Each ratio in every round (both of its steps measured minutes apart at most, under the
 * same load), then its median and range over the rounds.
 */
export function ratiosOf(rounds: Step[][]): Ratio[] {
  const perRound = rounds.map(roundRatios);
  return (perRound[0] ?? []).map((ratio, i) => {
    const values = perRound.map((round) => round[i]!.value).sort((a, b) => a - b);
    return {
      ...ratio,
      value: values[Math.floor(values.length / 2)]!,
      min: values[0]!,
      max: values.at(-1)!,
    };
  });
}

/** The knee (fewest connections reaching 90 % of the sweep's peak) and the errors up to it. */
export function kneeOf(sweep: Step[]): { knee: Step; errorsUpToKnee: number } {
  const peak = Math.max(...sweep.map((s) => s.result.requestsPerSecond));
  const knee = sweep.find((s) => s.result.requestsPerSecond >= 0.9 * peak) as Step;
  const errorsUpToKnee = sweep
    .filter((s) => s.connections <= knee.connections)
    .reduce((sum, s) => sum + s.result.errors + s.result.non2xx, 0);
  return { knee, errorsUpToKnee };
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  opts.log(`building the load generator image ${opts.generatorImage} (wrk from Debian)`);
  await buildGenerator(opts.generatorImage, opts.nginxBaseImage);
  opts.log(`building the Gunicorn example's image ${opts.gunicornImage}`);
  const { DEBIAN_IMAGE } = await ensureBaseImages(opts.env, opts.log);
  await buildImage(GUNICORN_EXAMPLE, opts.gunicornImage, DEBIAN_IMAGE ? { DEBIAN_IMAGE } : {});
  const stack = await openStack(opts);
  try {
    opts.log(`seeding: topping posts up to ${opts.posts}`);
    const seeded = await seedPosts(stack.db, opts.posts);
    opts.log(`posts: ${seeded.before} before, ${seeded.inserted} inserted`);
    const bareNginx = await stack.startBareNginx();
    const generator: Generator = {
      image: opts.generatorImage,
      cpus: opts.generatorCpus,
      containerName: `${opts.project}-load`,
      labels: { 'webstack.bench': opts.project },
    };
    const secondApp = await stack.startSecondApp();
    const unlogged = await stack.startUnlogged();
    const unmeteredApp = await stack.startUnmeteredApp();
    const bareFastify = await stack.startBareFastify();
    const noStatusLog = await stack.startNginxWithoutStatusLog();
    const gunicorn = await stack.startGunicorn(opts.gunicornImage);
    // Whose shims count: every container of this stack that serves the load (not wrk's).
    const servers = [stack.server, stack.db, stack.app, stack.nginx, bareNginx, ...Object.values(secondApp)];
    // At rest: seeded, the extra processes started, no load yet.
    const memory: Context['memory'] = new Map();
    for (const service of MEMORY_SERVICES) {
      const container = await findServiceContainer(opts.project, service, { runningOnly: true });
      if (container) memory.set(service, { container, restMiB: await memoryMiB(container), loadMiB: 0 });
    }
    const ctx: Context = {
      stack,
      generator,
      opts,
      appsBehind: {
        'published port': [stack.app],
        nginx: [stack.app],
        'app direct': [stack.app],
        'bare nginx': [stack.app],
        'nginx, no status log': [stack.app],
        'nginx, 2 apps': [stack.app, secondApp.app],
        'nginx, logging off': [unlogged.app],
        'app direct, logging off': [unlogged.app],
        'app direct, no metrics': [unmeteredApp],
        'bare Fastify': [bareFastify],
        'nginx, Gunicorn example': [gunicorn.app],
      },
      memory,
      stackContainerIds: [
        ...servers,
        ...Object.values(unlogged),
        unmeteredApp,
        bareFastify,
        noStatusLog,
        ...Object.values(gunicorn),
      ].map((c) => c.id),
    };

    // Interleaved rounds: a burst of someone else's load skews one round, not a ratio.
    const pairs = ROUTES.flatMap((route) => route.via.map((via) => ({ route, via })));
    const rounds: Step[][] = [];
    const roundLoad: number[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      roundLoad.push(os.loadavg()[0]!);
      opts.log(`per-route table, round ${round} of ${opts.rounds} (load average ${roundLoad.at(-1)!.toFixed(2)})`);
      const steps: Step[] = [];
      for (const { route, via } of pairs) steps.push(await measure(ctx, route, via, opts.connections));
      rounds.push(steps);
      await readMemoryUnderLoad(ctx);
    }
    const steps = pairs.map((_, i) => medianStep(rounds.map((round) => round[i]!)));
    // The sweep measures one server: one app process again.
    await stack.stopSecondApp();
    const readRoute = ROUTES.find((r) => r.name === 'GET /api/posts') as Route;
    const sweep: Step[] = [];
    for (const connections of opts.sweep) sweep.push(await measure(ctx, readRoute, 'nginx', connections));
    await readMemoryUnderLoad(ctx);
    const { knee, errorsUpToKnee } = kneeOf(sweep);

    return {
      startedAt,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        loadAverage: os.loadavg(),
        roundLoad,
      },
      options: {
        seconds: opts.seconds,
        rounds: opts.rounds,
        warmupSeconds: opts.warmupSeconds,
        connections: opts.connections,
        sweep: opts.sweep,
        posts: opts.posts,
        generatorCpus: opts.generatorCpus,
      },
      seeded,
      steps,
      sweep,
      kneeConnections: knee.connections,
      ratios: ratiosOf(rounds),
      maxAppRssMiB: Math.max(...steps.map((s) => s.appRssMiB), ...sweep.map((s) => s.appRssMiB)),
      sweepErrorsUpToKnee: errorsUpToKnee,
      memory: [...memory].map(([service, { restMiB, loadMiB }]) => ({ service, restMiB, loadMiB })),
    };
  } finally {
    await stack.close();
  }
}
