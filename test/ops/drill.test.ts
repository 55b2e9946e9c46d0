import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningServices } from '../../scripts/tool/core/compose.js';
import { namespaceMembers } from '../../scripts/tool/core/docker.js';
import { drill, formatDrill } from '../../scripts/tool/local/drill.js';
import { startStack, waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { writeResult } from '../support/results.js';

let stack: Stack;
let port: number;
let httpsPort: number;

/** A port free right now: the drill restarts the server container, so it must stay the same. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });

beforeAll(async () => {
  port = await freePort();
  httpsPort = await freePort();
  stack = await startStack({
    project: `webstack-test-drill-${randomBytes(3).toString('hex')}`,
    env: { HTTP_PORT: String(port), HTTPS_PORT: String(httpsPort) },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('the single point of failure, measured', () => {
  it('stops, then crashes, each part under load: every outage is seen, nothing acknowledged is lost', async () => {
    const rows = await drill({
      project: stack.project,
      env: stack.env,
      connections: 4,
      selfRecoveryCapMs: 60_000,
      stoppedWatchMs: 3_000,
      log: () => undefined,
    });
    writeResult('drill.md', formatDrill(rows));

    expect(rows.map((row) => `${row.action} ${row.part}`)).toEqual([
      'stop nginx',
      'kill nginx',
      'stop app',
      'kill app',
      'stop db',
      'kill db',
      'stop server',
      'kill server',
    ]);
    for (const row of rows) {
      const name = `${row.action} ${row.part}`;
      // Every part is a single point of failure: users see each outage.
      expect(row.failed, name).toBeGreaterThan(0);
      expect(row.acknowledgedWrites, name).toBeGreaterThan(0);
      expect(row.lostWrites, name).toBe(0);
      // restart: unless-stopped: a stopped part stays down until started, a crashed one comes
      // back by itself, the namespace's owner included: restarted with a new namespace, it
      // brings the others into it.
      if (row.action === 'stop') {
        expect(row.selfRecoveryMs, name).toBeNull();
        expect(row.repair?.what, name).toBe(`docker start ${row.part}`);
      } else {
        expect(row.selfRecoveryMs, name).not.toBeNull();
        expect(row.repair, name).toBeNull();
      }
      // The page itself never depends on the app or the database.
      if (row.part === 'app' || row.part === 'db') expect(row.page, name).toMatch(/^200×\d+$/);
    }
    await waitUntilReady(await stack.site());
    // Every service of the server's namespace runs in its current one, not only the site's path.
    const server = await stack.container('server');
    const serverStarted = Date.parse((await server.inspect()).State.StartedAt);
    // The one-shot migrate service ended before the drill: it has no namespace to rejoin.
    const members = new Map(
      [...(await namespaceMembers(stack.project, server))].filter(([service]) => runningServices().includes(service)),
    );
    expect([...members.keys()].sort()).toEqual(['app', 'certs', 'db', 'monitor', 'nginx']);
    for (const [service, member] of members) {
      const state = (await member.inspect()).State;
      expect(state.Running, service).toBe(true);
      expect(Date.parse(state.StartedAt), service).toBeGreaterThanOrEqual(serverStarted);
    }
  });
});
