// The stack on Docker Swarm across three simulated servers, through scripts/cluster: one
// manager (edge), one worker (edge), one worker holding the database. All traffic goes to
// 127.0.0.1, where each edge node's port 443 is published.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, docker } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { request, type Endpoint } from '../../scripts/tool/core/http.js';
import {
  formatCounts,
  outageMs,
  readWriteMix,
  runTraffic,
  type TrafficResult,
} from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { sshOk } from '../../scripts/tool/remote/ssh.js';
import { unlimited } from '../../scripts/tool/testing/stack.js';
import { startCluster, type Node, type SimulatedCluster } from './harness.js';

const images = imagesOf(process.env, 'test');
// A second release (same content, a new name: Swarm replaces every task all the same) and a
// release that starts but never answers its health check.
const release2 = `${images.app}-r2`;
const neverReady = `${images.app}-never-ready`;
const CONNECTIONS = 4;

let sim: SimulatedCluster;
let manager: Node;
let ca: string;
let stateDir: string;
/** Every write the API acknowledged (201) in any test: all must be readable at the end. */
const acknowledged = new Map<number, string>();

const edge = (node: Node): Endpoint => ({ port: node.httpsPort, ca });
const onManager = (command: string) => sshOk(manager.host, command);
const appTasks = async () =>
  (
    await onManager(
      "docker service ps --filter desired-state=running --format '{{.Node}} {{.CurrentState}} {{.Image}}' webstack_app",
    )
  )
    .split('\n')
    .filter(Boolean);

/** Load through one edge node, writes included, keeping every acknowledged write. */
const load = (node: Node, until: Promise<unknown>): Promise<TrafficResult> =>
  runTraffic({
    port: edge(node),
    connections: CONNECTIONS,
    until,
    maxDurationMs: 600_000,
    mix: readWriteMix,
    onResponse(entry, response) {
      if (response.status === 201) {
        const post = response.json<{ id: number; body: string }>();
        acknowledged.set(post.id, post.body);
      }
    },
  });

const report = (what: string, result: TrafficResult) => {
  const outage = outageMs(result.samples);
  console.log(
    `${what}: ${result.total} requests, ${result.failed} failed (${formatCounts(result)})${outage === null ? '' : `, outage ${(outage / 1000).toFixed(1)} s`}`,
  );
};

beforeAll(async () => {
  const started = Date.now();
  stateDir = mkdtempSync(path.join(tmpdir(), 'webstack-cluster-state-'));
  const contextDir = mkdtempSync(path.join(tmpdir(), 'webstack-never-ready-'));
  // Starts, but never answers: a release whose health check never passes.
  writeFileSync(
    path.join(contextDir, 'Dockerfile'),
    `FROM ${images.app}\nCMD ["node", "-e", "setInterval(() => {}, 1000)"]\n`,
  );
  await Promise.all([
    buildImage(contextDir, neverReady).finally(() => rmSync(contextDir, { recursive: true, force: true })),
    docker
      .getImage(images.app)
      .tag({ repo: images.app.slice(0, images.app.lastIndexOf(':')), tag: `${images.tag}-r2` }),
  ]);
  sim = await startCluster({
    tag: images.tag,
    size: 3,
    env: { ...process.env, ...unlimited, IMAGE_TAG: images.tag },
  });
  manager = sim.nodes[0]!;
  const [, n2, n3] = sim.nodes;
  await sim.cluster(['init', '--worker', `root@${n2!.addr}`, '--worker', `root@${n3!.addr}`]);
  await sim.cluster(['label', 'n1', 'webstack.edge=true', 'webstack.zone=a']);
  await sim.cluster(['label', 'n2', 'webstack.edge=true', 'webstack.zone=b']);
  await sim.cluster(['label', 'n3', 'webstack.db=true', 'webstack.zone=c']);
  // One stream per node: layers shared by the images go once.
  await sim.cluster(['ship', images.app, images.nginx, images.mysql, neverReady, release2], {
    // Over a local network, compression would only cost CPU.
    CLUSTER_SHIP_COMPRESS: 'false',
  });
  const deployed = await sim.cluster(['deploy', '--replicas', '3', '--state', stateDir]);
  ca = readFileSync(path.join(stateDir, 'certs/local-ca/ca.pem'), 'utf8');
  expect(deployed).toContain(ca.trim());
  // nginx follows tasks.app once a second.
  await waitFor(
    'both edge nodes serve the API',
    async () => {
      for (const node of [manager, n2!])
        if ((await request(edge(node), '/api/health/ready')).status !== 200) return false;
      return true;
    },
    { timeoutMs: 60_000 },
  );
  console.log(`cluster up, images shipped, stack deployed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}, 900_000);

afterAll(async () => {
  await sim?.remove();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  await Promise.all(
    [neverReady, release2].map((ref) =>
      docker
        .getImage(ref)
        .remove()
        .catch(() => undefined),
    ),
  );
}, 120_000);

describe('the stack on a three-node Swarm', () => {
  it('places one nginx per edge node, the database on its node, and the app replicas over the three zones', async () => {
    const nginx = await onManager(
      "docker service ps --filter desired-state=running --format '{{.Node}}' webstack_nginx",
    );
    expect(nginx.split('\n').filter(Boolean).sort()).toEqual(['n1', 'n2']);
    expect(
      (await onManager("docker service ps --filter desired-state=running --format '{{.Node}}' webstack_db")).trim(),
    ).toBe('n3');
    expect(new Set((await appTasks()).map((line) => line.split(' ')[0]))).toEqual(new Set(['n1', 'n2', 'n3']));
    // Passwords are files from secrets, not values in any service's environment.
    const specs = await onManager(
      "docker service inspect --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}' webstack_app webstack_db",
    );
    expect(specs).not.toMatch(/PASSWORD=/);
    expect(specs).toContain('DB_PASSWORD_FILE=/run/secrets/db_password');
  });

  it('round-trips posts over HTTPS through each edge node, each seeing the other’s writes', async () => {
    const [n1, n2] = sim.nodes as [Node, Node];
    for (const [writer, reader] of [
      [n1, n2],
      [n2, n1],
    ] as const) {
      const body = `through ${writer.name}, read through ${reader.name} ✓`;
      const created = await request(edge(writer), '/api/posts', { method: 'POST', body: { author: 'cluster', body } });
      expect(created.status).toBe(201);
      const post = created.json<{ id: number }>();
      acknowledged.set(post.id, body);
      const read = await request(edge(reader), `/api/posts/${post.id}`);
      expect(read.status).toBe(200);
      expect(read.json()).toMatchObject({ id: post.id, body });
      expect(read.headers['strict-transport-security']).toBeUndefined();
    }
    // The static page too, and a name the site does not serve is refused on the cluster as on one server.
    expect((await request(edge(n2), '/')).status).toBe(200);
    const unknown = await request(edge(n1), '/', { host: 'unknown.example', servername: 'www.foobar.com' });
    expect(unknown.status).toBe(421);
  });

  it('spreads requests over the app replicas (nginx logs which replica answered)', async () => {
    const marker = `spread-${Date.now()}`;
    for (let i = 0; i < 60; i++) {
      const response = await request(edge(manager), '/api/posts?limit=1', { headers: { 'user-agent': marker } });
      expect(response.status).toBe(200);
    }
    const replicas = await waitFor(
      'nginx has logged the marked requests',
      async () => {
        const logs = await onManager('docker service logs --raw --since 5m webstack_nginx 2>&1');
        const lines = logs
          .split('\n')
          .filter((line) => line.includes(marker))
          .map((line) => JSON.parse(line) as { upstream_addr: string });
        return lines.length >= 60 ? new Set(lines.map((line) => line.upstream_addr)) : false;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    console.log(`60 requests answered by replicas ${[...replicas].join(', ')}`);
    expect(replicas.size).toBe(3);
  });

  it('scales the app 1 → 3 → 1 under load with no failed request', async () => {
    const steps = (async () => {
      for (const replicas of [1, 3, 1]) {
        await sim.cluster(['scale', String(replicas)]);
        expect(await appTasks()).toHaveLength(replicas);
        // Load on the new set of replicas for a while before the next change.
        await sleep(3000);
      }
    })();
    const result = await load(manager, steps);
    await steps;
    report('scale 1→3→1', result);
    expect(result.failed).toBe(0);
    await sim.cluster(['scale', '3']);
  });

  it('rolls the replicas onto a new release under load with no failed request', async () => {
    const update = sim.cluster(['update', '--image', release2]);
    const result = await load(manager, update);
    const said = await update;
    report('rolling update', result);
    expect(said).toMatch(/^completed/m);
    expect(result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task).toContain(release2);
  });

  it('rolls back by itself from a release that never gets ready, with no failed request', async () => {
    const update = sim.cluster(['update', '--image', neverReady]).then(
      () => 'completed',
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    const result = await load(manager, update);
    const said = await update;
    report('update to a never-ready release', result);
    expect(said).toMatch(/rollback_completed/);
    expect(result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task).toContain(release2);
  });

  it('deploys again without undoing the update or the scale: the app keeps its release and replica count', async () => {
    await sim.cluster(['scale', '2']);
    // Settings only (the same files and certificate): nothing that runs is replaced.
    const deploy = sim.cluster(['deploy', '--state', stateDir]);
    const result = await load(manager, deploy);
    await deploy;
    report('deploy again', result);
    expect(result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(2);
    for (const task of tasks) expect(task).toContain(release2);
    await sim.cluster(['scale', '3']);
  });

  it('survives a worker node stopped under load: its replicas come back on the others, failures bounded', async () => {
    const worker = sim.nodes[1]!;
    let rescheduledMs = 0;
    const drill = (async () => {
      await sleep(2000);
      const stopped = Date.now();
      await sim.stopNode(worker);
      await waitFor(
        'three app replicas run again, none on the stopped node',
        async () => {
          const tasks = await appTasks();
          return tasks.length === 3 && tasks.every((task) => task.includes(' Running ') && !task.startsWith(`n2 `));
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      rescheduledMs = Date.now() - stopped;
      await sleep(3000);
    })();
    const result = await load(manager, drill);
    await drill;
    report('worker node stopped', result);
    console.log(`replicas of the stopped node running elsewhere after ${(rescheduledMs / 1000).toFixed(1)} s`);
    // Each load connection has at most one request in flight when the node goes; nginx moves
    // requests that could not connect to another replica, so only those in flight can fail.
    expect(result.failed).toBeLessThanOrEqual(CONNECTIONS);
    await sim.startNode(worker);
    await waitFor(
      'the worker is back in the swarm',
      async () => (await onManager("docker node ls --format '{{.Hostname}} {{.Status}}'")).includes('n2 Ready'),
      {
        timeoutMs: 120_000,
      },
    );
  });

  it('answers JSON 503 while the database node is down, recovers when it returns, and loses no write', async () => {
    const dbNode = sim.nodes[2]!;
    await sim.stopNode(dbNode);
    const down = await waitFor(
      'the API says the database is unavailable',
      async () => {
        const response = await request(edge(manager), '/api/posts?limit=1', { timeoutMs: 30_000 });
        return response.status === 503 ? response : false;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(down.headers['content-type']).toMatch(/application\/json/);
    expect(down.json()).toMatchObject({ statusCode: 503 });
    const refused = await request(edge(manager), '/api/posts', {
      method: 'POST',
      body: { author: 'cluster', body: 'while the database is down' },
      timeoutMs: 30_000,
    });
    expect(refused.status).toBe(503);
    const stopped = Date.now();
    await sim.startNode(dbNode);
    await waitFor(
      'the API reads again',
      async () => (await request(edge(manager), '/api/posts?limit=1')).status === 200,
      {
        timeoutMs: 300_000,
        intervalMs: 1000,
      },
    );
    console.log(
      `database node back and the API reading ${((Date.now() - stopped) / 1000).toFixed(1)} s after its restart began`,
    );
    const created = await request(edge(manager), '/api/posts', {
      method: 'POST',
      body: { author: 'cluster', body: 'after the database came back' },
    });
    expect(created.status).toBe(201);
    // Every write acknowledged since the cluster came up is still there.
    expect(acknowledged.size).toBeGreaterThan(10);
    for (const [id, body] of acknowledged) {
      const read = await request(edge(manager), `/api/posts/${id}`);
      expect(read.status, `post ${id}`).toBe(200);
      expect(read.json<{ body: string }>().body).toBe(body);
    }
  }, 600_000);
});
