import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_PORT, SLOT_PORT, deploy, rollback } from '../../scripts/ops/deploy.js';
import { docker, lastLogLines, serviceContainer } from '../../scripts/ops/docker.js';
import { formatCounts, outageMs, readWriteMix, runLoad, type LoadResult } from '../../scripts/ops/load.js';
import { liveAppPort, reloadGracefully, writeUpstream } from '../../scripts/ops/nginx.js';
import { compose, composeEnv, siteEndpoint } from '../support/compose.js';
import { IMAGE_TAG, images } from '../support/images.js';
import { writeResult } from '../support/results.js';
import { waitUntilReady } from '../support/stack.js';

const project = `webstack-test-${IMAGE_TAG}-deploy-${randomBytes(3).toString('hex')}`;
const env = composeEnv();
const CONNECTIONS = 16;
// A second release that differs from the first by one label, so a rollback is observable.
const secondRelease = `webstack/app:${IMAGE_TAG}-second-${randomBytes(3).toString('hex')}`;
const log: string[] = [];
const report: string[] = [];
/** The site over HTTPS, verified against the stack's local CA. */
let port: { port: number; ca: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const liveImage = async () => (await (await serviceContainer(project, 'app')).inspect()).Image;
function summary(what: string, load: LoadResult): string {
  const outage = outageMs(load.samples);
  const failing = outage === null ? '' : `, failing for ${(outage / 1000).toFixed(1)} s`;
  return `${what}: ${load.total} requests in ${(load.durationMs / 1000).toFixed(1)} s with ${CONNECTIONS} connections, ${load.failed} failed${failing} (${formatCounts(load)})`;
}

async function buildSecondRelease(): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'wsi-release-'));
  writeFileSync(join(context, 'Dockerfile'), `FROM ${images.app}\nLABEL webstack.release=second\n`);
  const stream = await docker.buildImage({ context, src: ['Dockerfile'] }, { t: secondRelease });
  await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve(undefined))),
  );
  rmSync(context, { recursive: true });
}

beforeAll(async () => {
  await compose(project, ['up', '-d', '--wait'], env);
  port = await siteEndpoint(project, env);
  await buildSecondRelease();
});

afterAll(async () => {
  await docker
    .getContainer(`${project}-app-${SLOT_PORT}`)
    .remove({ force: true })
    .catch(() => undefined);
  await compose(project, ['down', '--volumes', '--remove-orphans'], env);
  const tags = (await docker.listImages({ filters: { reference: [`webstack/app:${IMAGE_TAG}-*`] } })).flatMap(
    (i) => i.RepoTags ?? [],
  );
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
    const nginx = await serviceContainer(project, 'nginx');
    const operations = (async () => {
      await sleep(1_000);
      const built = await deploy({ project, env, log: (line) => log.push(line) });
      const second = await deploy({ project, env, image: secondRelease, log: (line) => log.push(line) });
      const back = await rollback({ project, env, log: (line) => log.push(line) });
      const reload = await reloadGracefully(nginx);
      await sleep(1_000);
      return { built, second, back, reload };
    })();
    const load = await runLoad({
      port,
      connections: CONNECTIONS,
      until: operations,
      maxDurationMs: 240_000,
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
    expect(await docker.listContainers({ all: true, filters: { name: [`${project}-app-${SLOT_PORT}`] } })).toEqual([]);
    expect(await lastLogLines(nginx, 100_000)).toContain(`"upstream_addr":"127.0.0.1:${SLOT_PORT}"`);
    const ps = await compose(project, ['ps', '--format', '{{.Service}} {{.State}}'], env);
    expect(ps.trim().split('\n').sort()).toEqual([
      'app running',
      'certs running',
      'db running',
      'nginx running',
      'server running',
    ]);
  });

  it('refuses a release that never becomes ready, and the live app keeps serving', async () => {
    const app = await serviceContainer(project, 'app');
    // The bare Node image: no app in it, so it exits at once instead of becoming ready.
    const attempt = deploy({
      project,
      env,
      image: images.nodeBase,
      readyTimeoutMs: 20_000,
      log: (line) => log.push(line),
    });
    const load = await runLoad({ port, connections: 4, until: attempt.catch(() => undefined), maxDurationMs: 60_000 });
    await expect(attempt).rejects.toThrow(
      /deploy refused, nothing was switched and the live app keeps serving: the app on port 5001 exited/,
    );
    expect(load.failed).toBe(0);
    expect((await serviceContainer(project, 'app')).id).toBe(app.id);
    expect((await app.inspect()).State.Running).toBe(true);
    expect(await liveAppPort(await serviceContainer(project, 'nginx'))).toBe(APP_PORT);
    expect(await docker.listContainers({ all: true, filters: { name: [`${project}-app-${SLOT_PORT}`] } })).toEqual([]);
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
      await expect(deploy({ project, env, image: secondRelease, log: stopAtRecording })).rejects.toBe(interrupted);
      expect(await liveAppPort(await serviceContainer(project, 'nginx'))).toBe(SLOT_PORT);
      const finished = await deploy({ project, env, log: (line) => log.push(line) });
      await sleep(1_000);
      return finished;
    })();
    const load = await runLoad({ port, connections: 8, until: operations, maxDurationMs: 120_000, mix: readWriteMix });
    const finished = await operations;
    expect(load.failed).toBe(0);
    expect(finished.previous).toBe(before);
    expect(await liveImage()).toBe((await docker.getImage(secondRelease).inspect()).Id);
    expect(await liveAppPort(await serviceContainer(project, 'nginx'))).toBe(APP_PORT);
    expect(await docker.listContainers({ all: true, filters: { name: [`${project}-app-${SLOT_PORT}`] } })).toEqual([]);
  });

  it('with keep-alive clients, reloads only ever reset an idle reused connection: no HTTP error', async () => {
    const nginx = await serviceContainer(project, 'nginx');
    const reloads = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(500);
        await reloadGracefully(nginx);
      }
      await sleep(500);
    })();
    const load = await runLoad({
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
    await writeUpstream(await serviceContainer(project, 'nginx'), SLOT_PORT);
    await compose(project, ['up', '-d', '--wait', '--no-deps', '--force-recreate', 'nginx'], env);
    const recreated = await serviceContainer(project, 'nginx');
    expect(await liveAppPort(recreated)).toBe(SLOT_PORT);
    await writeUpstream(recreated, APP_PORT);
    await reloadGracefully(recreated);
    await waitUntilReady(port);
  });

  it('measures what the naive `docker compose up -d --force-recreate app` loses, with the same load', async () => {
    const recreate = (async () => {
      await sleep(1_000);
      await compose(project, ['up', '-d', '--force-recreate', 'app'], env);
      await waitUntilReady(port);
      await sleep(1_000);
    })();
    const load = await runLoad({
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
