import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, docker, lastLogLines, removeContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { request } from '../../scripts/tool/core/http.js';
import { liveAppPort, switchUpstream } from '../../scripts/tool/core/nginx.js';
import {
  formatCounts,
  outageMs,
  readWriteMix,
  runTraffic,
  type TrafficResult,
} from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { APP_PORT, SLOT_PORT, deploy, rollback } from '../../scripts/tool/local/deploy.js';
import { startStack, waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { parsePrometheusText } from '../../nginx/monitor/src/prometheus-text.js';
import { writeResult } from '../support/results.js';
import { statusAuthorization } from '../support/http.js';

const images = imagesOf(process.env);
let stack: Stack;
/** The stack's project and environment, as the operations commands take them. */
const target = () => ({ project: stack.project, env: stack.env });
const CONNECTIONS = 16;
// A second release that differs from the first by one label, so a rollback is observable.
const secondRelease = `webstack/app:${images.tag}-second-${randomBytes(3).toString('hex')}`;
const log: string[] = [];
const report: string[] = [];
/** The site over HTTPS, verified against the stack's local CA. */
let port: { port: number; ca: string };

const liveImage = async () => (await (await stack.container('app')).inspect()).Image;
function summary(what: string, load: TrafficResult): string {
  const outage = outageMs(load.samples);
  const failing = outage === null ? '' : `, failing for ${(outage / 1000).toFixed(1)} s`;
  return `${what}: ${load.total} requests in ${(load.durationMs / 1000).toFixed(1)} s with ${CONNECTIONS} connections, ${load.failed} failed${failing} (${formatCounts(load)})`;
}

async function buildSecondRelease(): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'wsi-release-'));
  writeFileSync(join(context, 'Dockerfile'), `FROM ${images.app}\nLABEL webstack.release=second\n`);
  await buildImage(context, secondRelease);
  rmSync(context, { recursive: true });
}

/**
 * Runs a deploy that must be refused under light load; resolves once it is, after checking
 * that no request failed and the old release serves on: same app container, upstream on
 * APP_PORT, no slot left.
 */
async function expectRefused(attempt: Promise<unknown>, reason: RegExp): Promise<void> {
  const app = await stack.container('app');
  const load = await runTraffic({
    port,
    connections: 4,
    until: attempt.catch(() => undefined),
    maxDurationMs: 60_000,
  });
  await expect(attempt).rejects.toThrow(reason);
  expect(load.failed).toBe(0);
  expect((await stack.container('app')).id).toBe(app.id);
  expect((await app.inspect()).State.Running).toBe(true);
  expect(await liveAppPort(await stack.container('nginx'))).toBe(APP_PORT);
  expect(await docker.listContainers({ all: true, filters: { name: [`${stack.project}-app-${SLOT_PORT}`] } })).toEqual(
    [],
  );
}

beforeAll(async () => {
  stack = await startStack({ project: `webstack-test-deploy-${randomBytes(3).toString('hex')}` });
  port = stack.port;
  await buildSecondRelease();
});

afterAll(async () => {
  if (stack) await removeContainer(`${stack.project}-app-${SLOT_PORT}`);
  await stack?.stop();
  // Only the tags this file's deploys made: other lanes run at the same time with images of
  // the same IMAGE_TAG (the cluster's and the VPS's releases).
  const ours = new RegExp(`^webstack/app:${images.tag}-(r\\d{8}T\\d{6}Z|previous)$`);
  const tags = (await docker.listImages({ filters: { reference: [`webstack/app:${images.tag}-*`] } }))
    .flatMap((i) => i.RepoTags ?? [])
    .filter((tag) => ours.test(tag) || tag === secondRelease);
  for (const tag of tags)
    await docker
      .getImage(tag)
      .remove()
      .catch(() => undefined);
  writeResult('deploy.txt', [...report, '', ...log].join('\n'));
});

describe('zero-downtime deploy, rollback and reload', () => {
  it('loses no request across a deploy, a deploy of another release, a rollback and an nginx reload', async () => {
    const original = await liveImage();
    const nginx = await stack.container('nginx');
    const operations = (async () => {
      await sleep(1_000);
      const built = await deploy({ ...target(), log: (line) => log.push(line) });
      const second = await deploy({ ...target(), image: secondRelease, log: (line) => log.push(line) });
      const back = await rollback({ ...target(), log: (line) => log.push(line) });
      const reload = await switchUpstream(nginx, APP_PORT);
      await sleep(1_000);
      return { built, second, back, reload };
    })();
    const load = await runTraffic({
      port,
      connections: CONNECTIONS,
      until: operations,
      // Only a bound: the load must last as long as the operations (241 s in one busy run).
      maxDurationMs: 480_000,
      mix: readWriteMix,
    });
    const { built, second, back } = await operations;
    report.push(summary('deploy + deploy + rollback + nginx reload', load));

    expect(load.errors).toEqual({});
    expect(load.failed).toBe(0);
    expect(Object.keys(load.byStatus).sort()).toEqual(['200', '201']);
    expect(load.total).toBeGreaterThan(200);
    // Each release really served: the second differs, the rollback returned to the first.
    expect(built.previous).toBe(original);
    expect(second.live).not.toBe(built.live);
    expect(back.live).toBe(built.live);
    expect(await liveImage()).toBe(built.live);
    // At rest: compose's app on 5000, the slot gone, and requests went through the slot meanwhile.
    expect(await liveAppPort(nginx)).toBe(APP_PORT);
    expect(
      await docker.listContainers({ all: true, filters: { name: [`${stack.project}-app-${SLOT_PORT}`] } }),
    ).toEqual([]);
    expect(await lastLogLines(nginx, 100_000)).toContain(`"upstream_addr":"127.0.0.1:${SLOT_PORT}"`);
    // The monitor names the live release: the one the first deploy built, its tag stamped in.
    const env = (await docker.getImage(built.live).inspect()).Config.Env ?? [];
    const release = env.find((e) => e.startsWith('APP_RELEASE='))?.slice('APP_RELEASE='.length);
    expect(release).toMatch(new RegExp(`^${images.tag}-r\\d{8}T\\d{6}Z$`));
    await waitFor(
      'the monitor reports the live release',
      async () => {
        const metrics = await request(port, '/status/metrics', {
          headers: { authorization: statusAuthorization(stack.env.STATUS_PASSWORD) },
        });
        return parsePrometheusText(metrics.body).some((s) => s.name === 'app_info' && s.labels.release === release);
      },
      { timeoutMs: 15_000 },
    );
    const ps = await stack.compose(['ps', '--format', '{{.Service}} {{.State}}']);
    expect(ps.trim().split('\n').sort()).toEqual([
      'app running',
      'certs running',
      'db running',
      'monitor running',
      'nginx running',
      'server running',
    ]);
    // Three deploys beside the other lanes: in one run with the load average at 35-60 the first
    // two took 130 s and 103 s, and vitest's 300 s met the rollback.
  }, 600_000);

  it('refuses a release that never becomes ready, and the live app keeps serving', async () => {
    // The bare Node image: no app in it, so it exits at once instead of becoming ready.
    await expectRefused(
      deploy({ ...target(), image: images.nodeBase, readyTimeoutMs: 20_000, log: (line) => log.push(line) }),
      /deploy refused, nothing was switched and the live app keeps serving: the app on port 5001 exited/,
    );
  });

  it('stops at a failing migration before any release starts, and the live app keeps serving', async () => {
    const migrations = mkdtempSync(join(tmpdir(), 'wsi-migrations-'));
    cpSync(`${REPO_ROOT}app/migrations`, migrations, { recursive: true });
    writeFileSync(join(migrations, '900_broken.sql'), 'ALTER TABLE no_such_table ADD COLUMN x INT;');
    // The migrate image's user (node) reads the mounted folder.
    chmodSync(migrations, 0o755);
    try {
      await expectRefused(
        deploy({
          project: stack.project,
          env: { ...stack.env, APP_MIGRATIONS: migrations },
          image: secondRelease,
          log: (line) => log.push(line),
        }),
        /^deploy refused, the migrations failed: no release was started, nothing was switched and the live app keeps serving\. [\s\S]*migration 900_broken\.sql failed/,
      );
      expect((await request(port, '/api/health/ready')).status).toBe(200);
    } finally {
      rmSync(migrations, { recursive: true, force: true });
    }
  });

  it('finishes a deploy that stopped half-way, still without a failed request', async () => {
    const before = await liveImage();
    const interrupted = new Error('interrupted after the first switch');
    const operations = (async () => {
      await sleep(1_000);
      // Stops the deploy where the slot serves and compose's app is stopped, as a Ctrl-C there would.
      const stopAtRecording = (line: string) => {
        log.push(line);
        if (line.includes('recording releases')) throw interrupted;
      };
      await expect(deploy({ ...target(), image: secondRelease, log: stopAtRecording })).rejects.toBe(interrupted);
      expect(await liveAppPort(await stack.container('nginx'))).toBe(SLOT_PORT);
      const finished = await deploy({ ...target(), log: (line) => log.push(line) });
      await sleep(1_000);
      return finished;
    })();
    const load = await runTraffic({
      port,
      connections: 8,
      until: operations,
      maxDurationMs: 120_000,
      mix: readWriteMix,
    });
    const finished = await operations;
    expect(load.failed).toBe(0);
    expect(finished.previous).toBe(before);
    expect(await liveImage()).toBe((await docker.getImage(secondRelease).inspect()).Id);
    expect(await liveAppPort(await stack.container('nginx'))).toBe(APP_PORT);
    expect(
      await docker.listContainers({ all: true, filters: { name: [`${stack.project}-app-${SLOT_PORT}`] } }),
    ).toEqual([]);
  });

  it('with keep-alive clients, reloads only ever reset an idle reused connection: no HTTP error', async () => {
    const nginx = await stack.container('nginx');
    const reloads = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(500);
        await switchUpstream(nginx, APP_PORT);
      }
      await sleep(500);
    })();
    const load = await runTraffic({
      port,
      connections: CONNECTIONS,
      keepAlive: true,
      until: reloads,
      maxDurationMs: 60_000,
    });
    await reloads;
    report.push(summary('5 nginx reloads, keep-alive clients', load));
    // A reset is the HTTP/1.1 keep-alive race (the server closes as the client reuses);
    // clients retry those, as browsers do. nginx itself never answers with an error.
    expect(Object.keys(load.byStatus).filter((status) => status !== '200' && status !== '0')).toEqual([]);
    expect(Object.keys(load.errors).filter((error) => error !== 'ECONNRESET')).toEqual([]);
    expect(load.byStatus['200']).toBeGreaterThan(load.failed * 10);
  });

  it('keeps a switched upstream across an nginx recreate', async () => {
    await switchUpstream(await stack.container('nginx'), SLOT_PORT);
    await stack.compose(['up', '-d', '--wait', '--no-deps', '--force-recreate', 'nginx']);
    const recreated = await stack.container('nginx');
    expect(await liveAppPort(recreated)).toBe(SLOT_PORT);
    await switchUpstream(recreated, APP_PORT);
    await waitUntilReady(port);
  });

  it('measures what the naive `docker compose up -d --force-recreate app` loses, with the same load', async () => {
    const recreate = (async () => {
      await sleep(1_000);
      await stack.compose(['up', '-d', '--force-recreate', 'app']);
      await waitUntilReady(port);
      await sleep(1_000);
    })();
    const load = await runTraffic({
      port,
      connections: CONNECTIONS,
      until: recreate,
      maxDurationMs: 120_000,
      mix: readWriteMix,
    });
    await recreate;
    report.push(summary('naive docker compose up -d --force-recreate app', load));
    // The weakness the deploy removes: requests fail while the app restarts.
    expect(load.failed).toBeGreaterThan(0);
  });
});
