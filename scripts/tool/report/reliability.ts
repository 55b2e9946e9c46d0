// Renders the reliability page's generated figures from what the tests measured
// (test/results/reliability.json, written by a full `scripts/test` run).
import { readFile, writeFile } from 'node:fs/promises';
import { replaceSection } from '../core/markdown.js';
import { REPO_ROOT } from '../core/paths.js';

export interface ReliabilityResults {
  hostileInput: { total: number; categories: Array<{ category: string; cases: number; passed: number }> };
  rateLimits: Record<string, string | number>;
  slowClients: { headerCutAfterMs: number; bodyCutAfterMs: number };
  databaseKill: {
    writesAttempted: number;
    acknowledged: number;
    foundAfterRestart: number;
    lost: number;
    failedDuringOutage: Record<string, number>;
    restarts: number;
  };
  appKill: {
    recoverySeconds: number;
    duringOutage: Record<string, number>;
    afterRecovery: { requests: number; non2xx: number; errors: number };
  };
  gracefulShutdown: { inFlightStatus: number; newRequestStatus: number };
  keepAliveRace: { idleSeconds: number; writes: number; non201: number };
  sustainedLoad: {
    connections: number;
    seconds: number;
    requests: number;
    requestsPerSecond: number;
    errors: number;
    non2xx: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
  };
  exposure: Record<string, boolean>;
}

const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ') || 'none';
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The reliability page's generated section as Markdown. */
export function renderReliability(r: ReliabilityResults): string {
  const hostile = r.hostileInput.categories.map((c) => `| ${c.category} | ${c.cases} | ${c.passed} |`).join('\n');
  const open = Object.entries(r.exposure)
    .map(([probe, isOpen]) => `${probe} ${isOpen ? 'open' : 'closed'}`)
    .join(', ');
  return `**Hostile input**: ${r.hostileInput.total} requests through nginx's published port, most over raw sockets.
Each is checked for its status, a clear JSON error (HTML for pages), the security headers,
no leaked file, config or stack trace, and an unchanged posts table (or, for the
metacharacter cases, the post stored verbatim).

| category | cases | passed |
| --- | --- | --- |
${hostile}

**Drills and limits**

| what was tried | what was measured |
| --- | --- |
| \`kill -9\` of the database during 4 streams of POSTs | ${r.databaseKill.acknowledged} writes acknowledged (201), ${r.databaseKill.foundAfterRestart} found after the restart: **${r.databaseKill.lost} lost**. Meanwhile: ${statuses(r.databaseKill.failedDuringOutage)} (JSON). Restarted by its policy (restart count ${r.databaseKill.restarts}) |
| \`kill -9\` of the app under 8 connections of mixed load | back by its restart policy in **${r.appKill.recoverySeconds.toFixed(1)} s**. Meanwhile: ${statuses(r.appKill.duringOutage)} (JSON). After: ${r.appKill.afterRecovery.requests} requests, ${r.appKill.afterRecovery.non2xx + r.appKill.afterRecovery.errors} errors |
| SIGTERM to the app during a slow request | the in-flight request: ${r.gracefulShutdown.inFlightStatus}. A new one meanwhile: ${r.gracefulShutdown.newRequestStatus} (JSON) |
| upstream connections idle ${r.keepAliveRace.idleSeconds} s (past nginx's 60 s), then ${r.keepAliveRace.writes} POSTs | ${r.keepAliveRace.non201} failed |
| ${r.sustainedLoad.connections} connections for ${r.sustainedLoad.seconds} s, reads, writes and assets | ${r.sustainedLoad.requests} requests (${r.sustainedLoad.requestsPerSecond}/s), **${r.sustainedLoad.errors + r.sustainedLoad.non2xx} errors**, p50 ${r.sustainedLoad.p50Ms} ms, p99 ${r.sustainedLoad.p99Ms} ms |
| ${Number(r.rateLimits.burstAttempted)} simultaneous POSTs from one client (limit ${r.rateLimits.RATE_LIMIT_WRITES}, burst ${r.rateLimits.RATE_LIMIT_WRITES_BURST}) | ${r.rateLimits.accepted} accepted, ${r.rateLimits.limited} × 429 with Retry-After |
| slow clients: headers trickled, a body that never comes | cut off after ${seconds(r.slowClients.headerCutAfterMs)} and ${seconds(r.slowClients.bodyCutAfterMs)}; other clients served meanwhile |
| ports probed from an outside network namespace | ${open} |`;
}

/** The docs page whose `reliability` section the report rewrites. */
export const RELIABILITY_PAGE = 'docs/reliability.md';

/** Rewrites the reliability page's generated section from test/results/reliability.json. */
export async function reliabilityReport(): Promise<void> {
  const results = JSON.parse(await readFile(`${REPO_ROOT}test/results/reliability.json`, 'utf8')) as ReliabilityResults;
  const page = `${REPO_ROOT}${RELIABILITY_PAGE}`;
  await writeFile(page, replaceSection(await readFile(page, 'utf8'), 'reliability', renderReliability(results)));
  console.log(`${RELIABILITY_PAGE}: reliability figures updated from test/results/reliability.json`);
}
