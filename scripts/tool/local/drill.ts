import type Docker from 'dockerode';
import type { StackTarget } from '../core/compose.js';
import { serviceContainer, signalMainProcess } from '../core/docker.js';
import { portOf, request, type Endpoint, type HttpResponse } from '../core/http.js';
import { formatCounts, outageMs, readWriteMix, runTraffic, summarize, type TrafficRequest } from '../core/traffic.js';
import type { Log } from '../core/steps.js';
import { sleep, waitFor } from '../core/wait.js';
import { siteEndpoint } from '../core/site.js';

export const PARTS = ['nginx', 'app', 'db', 'server'] as const;
export const ACTIONS = ['stop', 'kill'] as const;
export type Part = (typeof PARTS)[number];
export type Action = (typeof ACTIONS)[number];

export interface DrillOptions extends StackTarget {
  connections?: number;
  /** How long to wait for a killed part to come back by itself before repairing it by hand. */
  selfRecoveryCapMs?: number;
  /** How long to watch a stopped part stay down (Docker never restarts what was stopped). */
  stoppedWatchMs?: number;
  log?: Log;
}

export interface DrillRow {
  part: Part;
  action: Action;
  /** Status counts at the front door from the action until the site answered again. */
  page: string;
  api: string;
  failed: number;
  /** First to last failed request, as users saw it; null when none failed. */
  outageMs: number | null;
  /** From the action until the site was ready again on its own; null when it was not. */
  selfRecoveryMs: number | null;
  /** The operator's repair when it did not come back by itself, and how long that took. */
  repair: { what: string; ms: number } | null;
  acknowledgedWrites: number;
  lostWrites: number;
}

// The whole page and the API, as a user's browser would ask for them.
const drillMix: TrafficRequest[] = [{ weight: 1, path: '/' }, ...readWriteMix];
const REPAIR_CAP_MS = 180_000;

async function frontDoorReady(port: Endpoint): Promise<boolean> {
  return request(port, '/api/health/ready', { timeoutMs: 2_000 }).then(
    (answer) => answer.status === 200,
    () => false,
  );
}

/**
 * Polls until the site is ready again and the part runs again (for a kill: restarted by
 * Docker's restart policy, not merely not yet dead). Returns ms since `since`, or null.
 */
async function waitRecovered(
  port: Endpoint,
  part: Docker.Container,
  restartsBefore: number,
  since: number,
  capMs: number,
  restarted: boolean,
) {
  const back = async () => {
    const state = await part.inspect();
    const running = state.State.Running && (!restarted || state.RestartCount > restartsBefore);
    return running && (await frontDoorReady(port)) && performance.now() - since;
  };
  const timeoutMs = Math.max(0, since + capMs - performance.now());
  return waitFor('the part runs and the site is ready', back, { timeoutMs, intervalMs: 200 }).catch(() => null);
}

/**
 * What an operator does when a part stays down: start it. A started server container brings
 * the services of its earlier namespace into its new one by itself, as after a crash.
 */
async function repair(part: Part, container: Docker.Container): Promise<string> {
  if (!(await container.inspect()).State.Running) await container.start();
  return `docker start ${part}`;
}

async function lostWrites(port: Endpoint, written: Map<number, string>): Promise<number> {
  let lost = 0;
  const ids = [...written.keys()];
  for (let i = 0; i < ids.length; i += 8) {
    const batch = ids.slice(i, i + 8);
    // A connection cut before any answer (nginx's workers still settling after a repair) says
    // nothing about the write: ask again. Any HTTP answer counts as it is.
    const answers = await Promise.all(
      batch.map((id) =>
        waitFor(`an answer for post ${id}`, () => request(port, `/api/posts/${id}`), { timeoutMs: 30_000 }),
      ),
    );
    answers.forEach((answer, j) => {
      if (answer.status !== 200 || answer.body !== written.get(batch[j]!)) lost++;
    });
  }
  return lost;
}

async function drillOne(options: DrillOptions, part: Part, action: Action): Promise<DrillRow> {
  const { project, connections = 4, selfRecoveryCapMs = 60_000, stoppedWatchMs = 10_000 } = options;
  const server = await serviceContainer(project, 'server');
  const port = await siteEndpoint(project, server);
  if (!(await frontDoorReady(port)))
    throw new Error(`the site on 127.0.0.1:${portOf(port)} is not ready before the drill of ${part}`);
  const container = await serviceContainer(project, part);
  const restartsBefore = (await container.inspect()).RestartCount;
  const written = new Map<number, string>();
  let t0 = 0;
  let selfRecoveryMs: number | null = null;
  let repaired: DrillRow['repair'] = null;

  const scenario = (async () => {
    await sleep(1_000);
    t0 = performance.now();
    await (action === 'stop' ? container.stop() : signalMainProcess(container, 'SIGKILL'));
    const cap = action === 'stop' ? stoppedWatchMs : selfRecoveryCapMs;
    selfRecoveryMs = await waitRecovered(port, container, restartsBefore, t0, cap, action === 'kill');
    if (selfRecoveryMs === null) {
      const started = performance.now();
      const what = await repair(part, container);
      const ms = await waitRecovered(port, container, 0, started, REPAIR_CAP_MS, false);
      if (ms === null) throw new Error(`the site did not come back within ${REPAIR_CAP_MS / 1000} s of "${what}"`);
      repaired = { what, ms };
    }
    await sleep(1_000);
  })();
  const startedLoad = performance.now();
  const load = await runTraffic({
    port,
    connections,
    until: scenario.catch(() => undefined),
    maxDurationMs: Math.max(selfRecoveryCapMs, stoppedWatchMs) + REPAIR_CAP_MS + 10_000,
    mix: drillMix,
    onResponse: (entry: TrafficRequest, answer: HttpResponse) => {
      if (entry.path === '/api/posts' && answer.status === 201)
        written.set(answer.json<{ id: number }>().id, answer.body);
    },
  });
  await scenario;
  const since = t0 - startedLoad;
  const during = load.samples.filter((s) => s.atMs >= since);
  const counts = (page: boolean) => formatCounts(summarize(during.filter((s) => (s.path === '/') === page)));
  return {
    part,
    action,
    page: counts(true),
    api: counts(false),
    failed: summarize(during).failed,
    outageMs: outageMs(during),
    selfRecoveryMs,
    repair: repaired,
    acknowledgedWrites: written.size,
    lostWrites: await lostWrites(port, written),
  };
}

/**
 * The single point of failure, measured: stops, then kills, each part in turn under
 * constant load through the front door, and records what users saw, whether and when
 * the site came back by itself, and whether any acknowledged write was lost.
 */
export async function drill(options: DrillOptions): Promise<DrillRow[]> {
  const log = options.log ?? console.log;
  const rows: DrillRow[] = [];
  for (const part of PARTS) {
    for (const action of ACTIONS) {
      log(`${action} ${part} …`);
      const row = await drillOne(options, part, action);
      log(`  ${formatRow(row)}`);
      rows.push(row);
    }
  }
  return rows;
}

const secs = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`);
const ACTION_NAMES: Record<Action, string> = { stop: '`docker stop`', kill: 'crash (`kill -9`)' };

function formatRow(row: DrillRow): string {
  const byItself = row.selfRecoveryMs === null ? 'no' : `yes, ${secs(row.selfRecoveryMs)}`;
  const repair = row.repair ? `${row.repair.what}: ${secs(row.repair.ms)}` : '–';
  return `| ${row.part} | ${ACTION_NAMES[row.action]} | ${row.page} | ${row.api} | ${secs(row.outageMs)} | ${byItself} | ${repair} | ${row.lostWrites} of ${row.acknowledgedWrites} |`;
}

/** The drill's results as a Markdown table (the docs' copy comes from this). */
export function formatDrill(rows: DrillRow[]): string {
  return [
    '| part | action | users saw: page `/` | users saw: `/api/*` | outage | back by itself | repair by hand | acknowledged writes lost |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(formatRow),
  ].join('\n');
}
