// The stack on Docker Swarm across three simulated servers, through scripts/cluster: one
// manager (edge), one worker (edge), one worker holding the database. All traffic goes to
// 127.0.0.1, where each edge node's port 443 is published (and, for the ACME test, to its
// own Pebble and DNS server and the edge nodes on their network).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, docker, removeContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { servedCertificate } from '../../scripts/tool/cert/status.js';
import { request, type Endpoint } from '../../scripts/tool/core/http.js';
import {
  describeFailures,
  formatCounts,
  outageMs,
  readWriteMix,
  runTraffic,
  type TrafficResult,
} from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { sshOk, sshRun } from '../../scripts/tool/remote/ssh.js';
import { unlimited } from '../../scripts/tool/testing/stack.js';
import {
  APEX,
  SITE_DOMAIN,
  buildAcmeEnv,
  createNetwork,
  pebbleAnswers,
  pebbleOrders,
  startDns,
  startPebble,
  zoneText,
} from '../https/acme-env.js';
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
/** An image reference without the digest Swarm may add. */
const imageOf = (reference: string) => reference.replace(/@sha256:[0-9a-f]+$/, '');

/**
 * Brings the nodes and the app to what a test needs, whatever an earlier test left: every
 * node up and Ready, then `replicas` app tasks (of `image`, when given) running. Scales or
 * updates only what differs.
 */
async function ensureApp({ replicas, image }: { replicas: number; image?: string }) {
  for (const node of sim.nodes) if (!(await node.container.inspect()).State.Running) await sim.startNode(node);
  await waitFor(
    'every node is Ready in the swarm',
    async () =>
      (await onManager("docker node ls --format '{{.Status}}'"))
        .split('\n')
        .filter(Boolean)
        .every((status) => status === 'Ready'),
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  const [liveImage = '', liveReplicas = ''] = (
    await onManager(
      "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.Mode.Replicated.Replicas}}' webstack_app",
    )
  )
    .trim()
    .split(' ');
  if (image !== undefined && imageOf(liveImage) !== image) await sim.cluster(['update', '--image', image]);
  if (Number(liveReplicas) !== replicas) await sim.cluster(['scale', String(replicas)]);
  await waitFor(
    `${replicas} app replicas run${image === undefined ? '' : ` ${image}`}`,
    async () => {
      const tasks = await appTasks();
      return (
        tasks.length === replicas &&
        tasks.every(
          (task) => task.includes(' Running ') && (image === undefined || imageOf(task.split(' ').at(-1)!) === image),
        )
      );
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
}

interface Load {
  result: TrafficResult;
  /** The app replicas' log lines meanwhile, removed replicas' included. */
  appLog: string[];
}

/**
 * Load through the manager's edge node (or through several front doors in turn), writes
 * included, keeping every acknowledged write.
 */
async function load(until: Promise<unknown>, [front, ...alsoAt]: Endpoint[] = [edge(manager)]): Promise<Load> {
  const appLog = sim.followLogs('webstack_app');
  const result = await runTraffic({
    port: front!,
    alsoAt,
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
  return { result, appLog: await appLog.stop() };
}

/**
 * The counts, and for each failed request who answered it: nginx's access-log line for its
 * X-Request-Id (upstream_addr, upstream_status) and the app's lines for it, with nginx's
 * changes of the replica list and the replicas' shutdowns during the load.
 */
async function report(what: string, { result, appLog }: Load) {
  const outage = outageMs(result.samples);
  console.log(
    `${what}: ${result.total} requests, ${result.failed} failed (${formatCounts(result)})${outage === null ? '' : `, outage ${(outage / 1000).toFixed(1)} s`}${result.movedOn === undefined ? '' : `, ${result.movedOn} moved on to another edge after one could not connect`}`,
  );
  if (result.failed === 0) return;
  const since = new Date(result.startedAt - 2000).toISOString().replace(/\.\d+Z$/, 'Z');
  // Evidence only, so never a failure of its own: with a node down, `docker service logs`
  // prints what the nodes still up hold and exits 1.
  const nginxLog = (
    await sshRun(manager.host, `docker service logs --timestamps --since ${since} webstack_nginx 2>&1`).catch(
      (err: Error) => ({ stdout: `(nginx's log could not be read: ${err.message})` }),
    )
  ).stdout.split('\n');
  const ids = result.samples.flatMap((sample) => (sample.requestId ? [sample.requestId] : []));
  const about = (line: string) => ids.some((id) => line.includes(id));
  console.log(
    [
      'failed requests (load-generator clock):',
      ...describeFailures(result),
      'nginx (its answers to them; app-tasks: its replica list):',
      ...nginxLog.filter((line) => about(line) || line.includes('app-tasks:')),
      'app replicas (their lines for them; shutdowns):',
      ...appLog.filter((line) => about(line) || /shutting down|refusing/.test(line)),
    ].join('\n'),
  );
}

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
  await sim.cluster(
    ['ship', images.app, images.nginx, images.migrate, images.certs, images.mysql, neverReady, release2],
    {
      // Over a local network, compression would only cost CPU.
      CLUSTER_SHIP_COMPRESS: 'false',
    },
  );
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
    await ensureApp({ replicas: 3 });
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
    await ensureApp({ replicas: 3 });
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
    await ensureApp({ replicas: 3 });
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
    await ensureApp({ replicas: 3 });
    const steps = (async () => {
      for (const replicas of [1, 3, 1]) {
        await sim.cluster(['scale', String(replicas)]);
        expect(await appTasks()).toHaveLength(replicas);
        // Load on the new set of replicas for a while before the next change.
        await sleep(3000);
      }
    })();
    const scaled = await load(steps);
    await steps;
    await report('scale 1→3→1', scaled);
    expect(scaled.result.failed).toBe(0);
  });

  it('rolls the replicas onto a new release under load with no failed request', async () => {
    await ensureApp({ replicas: 3, image: images.app });
    const update = sim.cluster(['update', '--image', release2]);
    const updated = await load(update);
    const said = await update;
    await report('rolling update', updated);
    expect(said).toMatch(/^completed/m);
    expect(updated.result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task).toContain(release2);
    // An update runs the migrations job before it rolls (about a minute more on a busy machine):
    // with the scale to 3 first, it took 228-300 s beside the other lanes.
  }, 600_000);

  it('rolls back by itself from a release that never gets ready, with no failed request', async () => {
    await ensureApp({ replicas: 3, image: release2 });
    const update = sim.cluster(['update', '--image', neverReady]).then(
      () => 'completed',
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    const refused = await load(update);
    const said = await update;
    await report('update to a never-ready release', refused);
    expect(said).toMatch(/rollback_completed/);
    expect(refused.result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task).toContain(release2);
  }, 600_000);

  it('deploys again without undoing the update or the scale: the app keeps its release and replica count', async () => {
    await ensureApp({ replicas: 2, image: release2 });
    // Settings only (the same files and certificate): nothing that runs is replaced.
    const deploy = sim.cluster(['deploy', '--state', stateDir]);
    const deployed = await load(deploy);
    await deploy;
    await report('deploy again', deployed);
    expect(deployed.result.failed).toBe(0);
    const tasks = await appTasks();
    expect(tasks).toHaveLength(2);
    for (const task of tasks) expect(task).toContain(release2);
  });

  it('survives a worker node stopped under load: its replicas come back on the others, failures bounded', async () => {
    await ensureApp({ replicas: 3 });
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
    const drilled = await load(drill);
    await drill;
    await report('worker node stopped', drilled);
    console.log(`replicas of the stopped node running elsewhere after ${(rescheduledMs / 1000).toFixed(1)} s`);
    // Each load connection has at most one request in flight when the node goes; nginx moves
    // requests that could not connect to another replica, so only those in flight can fail.
    expect(drilled.result.failed).toBeLessThanOrEqual(CONNECTIONS);
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
    await ensureApp({ replicas: 3 });
    // Writes of its own, so that the check below covers some whichever tests ran before.
    for (let i = 0; i < 3; i++) {
      const body = `before the database node stops ${i}`;
      const created = await request(edge(manager), '/api/posts', { method: 'POST', body: { author: 'cluster', body } });
      expect(created.status).toBe(201);
      acknowledged.set(created.json<{ id: number }>().id, body);
    }
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
    // Every write acknowledged since the cluster came up is still there (this test's own at least).
    expect(acknowledged.size).toBeGreaterThanOrEqual(3);
    for (const [id, body] of acknowledged) {
      const read = await request(edge(manager), `/api/posts/${id}`);
      expect(read.status, `post ${id}`).toBe(200);
      expect(read.json<{ body: string }>().body).toBe(body);
    }
  }, 600_000);
  it('gets its certificate from an ACME CA (Pebble) through either edge, and renews it under load across the edges with no failed request', async () => {
    await ensureApp({ replicas: 3 });
    const edges = sim.nodes.slice(0, 2);
    await buildAcmeEnv();
    // The test's own CA and DNS on a network of their own, which the edge nodes join.
    const network = await createNetwork(`webstack-test-cluster-acme-${images.tag}`.toLowerCase());
    const joined: Node[] = [];
    try {
      const addresses = edges.map((_, i) => network.at(81 + i));
      for (const [i, node] of edges.entries()) {
        await docker.getNetwork(network.name).connect({
          Container: node.container.id,
          EndpointConfig: { IPAMConfig: { IPv4Address: addresses[i] } },
        });
        joined.push(node);
      }
      // Each name at another edge node: the CA validates one through each, and both must
      // answer with what the issuer (on the manager) holds.
      await startDns(network, zoneText(`${APEX}. 5 IN A ${addresses[0]}\n${SITE_DOMAIN}. 5 IN A ${addresses[1]}`));
      // Long enough to outlive the test, so the renewal is asked for (--force), not waited for.
      const pebble = await startPebble(network, 3600);
      const { apiCert, root } = await pebbleAnswers(network, pebble);
      const acme = {
        ACME_DIRECTORY: `https://${network.pebble}:14000/dir`,
        ACME_DIRECTORY_CA: apiCert,
        ACME_EMAIL: 'ops@foobar.com',
        HSTS_MAX_AGE: '600',
      };
      const served = () => Promise.all(edges.map((node) => servedCertificate(node.httpsPort, SITE_DOMAIN)));
      const pebbleEdge = (node: Node): Endpoint => ({ port: node.httpsPort, ca: root });

      // The stack as deployed (stack.yml takes no ACME setting), its first certificate from
      // the CA: what a deploy with these settings ends with (it calls renew once nginx runs).
      let started = Date.now();
      const first = await sim.cluster(['renew'], acme);
      console.log(
        `first certificate: ${((Date.now() - started) / 1000).toFixed(0)} s; ${first.trim().split('\n').at(-1)}`,
      );
      expect(first).toMatch(/^renewed \(none from the CA yet\)/m);
      expect(await pebbleOrders(pebble)).toBe(1);
      const issued = await served();
      for (const [i, node] of edges.entries()) {
        expect(issued[i]!.names.sort(), node.name).toEqual([APEX, SITE_DOMAIN].sort());
        expect(issued[i]!.issuer).toMatch(/Pebble/i);
        // Verified against Pebble's root: the whole chain is the CA's.
        const page = await request(pebbleEdge(node), '/api/posts?limit=1');
        expect(page.status).toBe(200);
        expect(page.headers['strict-transport-security']).toBe('max-age=600');
      }
      expect(await sim.cluster(['renew'], acme)).toMatch(/^not due: the certificate renews after /m);
      expect(await pebbleOrders(pebble)).toBe(1);

      // A renewal under load across both edges: a new secret version, one edge at a time.
      started = Date.now();
      const renew = sim.cluster(['renew', '--force'], acme);
      const renewed = await load(renew, edges.map(pebbleEdge));
      const said = await renew;
      console.log(`renewal: ${((Date.now() - started) / 1000).toFixed(0)} s; ${said.trim().split('\n').at(-1)}`);
      await report('certificate renewal across the edges', renewed);
      expect(said).toMatch(/^renewed \(asked to\)/m);
      expect(renewed.result.total).toBeGreaterThan(0);
      expect(renewed.result.failed).toBe(0);
      expect(await pebbleOrders(pebble)).toBe(2);
      const after = await served();
      for (const [i, node] of edges.entries()) {
        expect(after[i]!.fingerprint, node.name).not.toBe(issued[i]!.fingerprint);
        expect(after[i]!.notAfter.getTime()).toBeGreaterThan(issued[i]!.notAfter.getTime());
        expect((await request(pebbleEdge(node), '/')).status).toBe(200);
      }
    } finally {
      await Promise.all([`${network.name}-dns`, `${network.name}-pebble`].map(removeContainer));
      for (const node of joined)
        await docker
          .getNetwork(network.name)
          .disconnect({ Container: node.container.id, Force: true })
          .catch(() => undefined);
      await network.remove();
    }
  }, 600_000);
});
