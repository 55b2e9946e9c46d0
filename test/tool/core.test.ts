import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appChoice } from '../../scripts/tool/core/app.js';
import { wholeNumber } from '../../scripts/tool/core/args.js';
import { composeFiles, composeService, composeServices } from '../../scripts/tool/core/compose.js';
import { BUILT_SERVICES, builtImages, imagesOf, loadEnv } from '../../scripts/tool/core/env.js';
import { replaceSection } from '../../scripts/tool/core/markdown.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import {
  describeFailures,
  formatCounts,
  outageMs,
  summarize,
  type TrafficSample,
} from '../../scripts/tool/core/traffic.js';
import { GiveUp, waitFor } from '../../scripts/tool/core/wait.js';

describe('wholeNumber (command-line options)', () => {
  it('takes whole numbers from the minimum up, and the fallback when absent', () => {
    expect(wholeNumber('keep', '3', 7)).toBe(3);
    expect(wholeNumber('keep', undefined, 7)).toBe(7);
    expect(wholeNumber('warmup', '0', 2, 0)).toBe(0);
  });

  it('refuses anything else, naming the option', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '', ' ']) {
      expect(() => wholeNumber('keep', bad, 7), bad).toThrow(/^--keep must be a whole number of at least 1/);
    }
  });
});

describe('replaceSection (generated docs sections)', () => {
  const doc = 'intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\noutro\n';

  it('replaces only what stands between the markers, keeping them', () => {
    expect(replaceSection(doc, 'bench', 'new\n')).toBe('intro\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\noutro\n');
  });

  it('refuses a document without the section', () => {
    expect(() => replaceSection(doc, 'reliability', 'x')).toThrow(/no <!-- reliability:begin -->/);
  });
});

describe('loadEnv and imagesOf', () => {
  it('reads .env under the process environment, which wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'MYSQL_IMAGE=db:from-file\nIMAGE_TAG=file\n');
      const env = loadEnv(join(dir, '.env'), { IMAGE_TAG: 'process' });
      expect(env.MYSQL_IMAGE).toBe('db:from-file');
      expect(env.IMAGE_TAG).toBe('process');
      expect(loadEnv(join(dir, 'missing.env'), { A: '1' })).toEqual({ A: '1' });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('names the official images by default and the repo images by tag', () => {
    expect(imagesOf({})).toEqual({
      mysql: 'mysql:8.4',
      nginxBase: 'nginx:1.28',
      nodeBase: 'node:24-bookworm-slim',
      server: 'webstack/server:latest',
      app: 'webstack/app:latest',
      nginx: 'webstack/nginx:latest',
      certs: 'webstack/certs:latest',
      monitor: 'webstack/monitor:latest',
      migrate: 'webstack/migrate:latest',
      tag: 'latest',
    });
    expect(builtImages(imagesOf({ IMAGE_TAG: 'v2' }))).toEqual([
      'webstack/server:v2',
      'webstack/app:v2',
      'webstack/nginx:v2',
      'webstack/certs:v2',
      'webstack/monitor:v2',
      'webstack/migrate:v2',
    ]);
    expect(imagesOf({ IMAGE_TAG: 'v1', NGINX_IMAGE: 'webstack-local/nginx:1.26' }, 'test')).toMatchObject({
      nginxBase: 'webstack-local/nginx:1.26',
      app: 'webstack/app:v1',
    });
    expect(imagesOf({}, 'test').nginx).toBe('webstack/nginx:test');
    // A ready app image is the app, whatever the tag; an empty one (as .env writes it) is none.
    expect(imagesOf({ IMAGE_TAG: 'v1', APP_IMAGE: 'example/app:2' })).toMatchObject({
      app: 'example/app:2',
      nginx: 'webstack/nginx:v1',
    });
    expect(imagesOf({ IMAGE_TAG: 'v1', APP_IMAGE: '' }).app).toBe('webstack/app:v1');
  });
});

describe('the app choice: appChoice and composeFiles', () => {
  it('takes the sample, a folder with a Dockerfile (resolved) or a ready image, with the compose files each needs', () => {
    expect(appChoice({})).toBeUndefined();
    expect(appChoice({ APP_DIR: 'test/consumer/hello-app' }, REPO_ROOT)).toEqual({
      dir: join(REPO_ROOT, 'test/consumer/hello-app'),
    });
    expect(appChoice({ APP_IMAGE: 'example/app:2', APP_DIR: '' })).toEqual({ image: 'example/app:2' });
    expect(composeFiles({})).toEqual(['docker-compose.yml']);
    expect(composeFiles({ APP_IMAGE: 'example/app:2' })).toEqual([
      'docker-compose.yml',
      'docker-compose.app-image.yml',
    ]);
  });

  it('refuses both at once, and a folder without a Dockerfile, saying what to do', () => {
    expect(() => appChoice({ APP_DIR: 'app', APP_IMAGE: 'example/app:2' }, REPO_ROOT)).toThrow(
      'APP_DIR (app) and APP_IMAGE (example/app:2) are both set: the app is either a folder to build or a ready image, unset one',
    );
    expect(() => appChoice({ APP_DIR: 'docs' }, REPO_ROOT)).toThrow(
      `APP_DIR=docs: ${join(REPO_ROOT, 'docs')} holds no Dockerfile; point APP_DIR at your app's folder, which must have one`,
    );
  });

  it('lists exactly the services docker-compose.yml builds, under the names it gives their images', () => {
    const built = composeServices().filter((service) => composeService(service).build);
    expect([...BUILT_SERVICES].sort()).toEqual(built.sort());
    for (const service of BUILT_SERVICES)
      expect(composeService(service).image, service).toBe(`webstack/${service}:\${IMAGE_TAG:-latest}`);
  });
});

describe('waitFor', () => {
  it('returns the first value that is not false, retrying checks that throw', async () => {
    let calls = 0;
    const value = await waitFor(
      'the third call',
      async () => {
        calls++;
        if (calls === 1) throw new Error('not yet');
        return calls === 3 ? 'done' : false;
      },
      { timeoutMs: 5_000, intervalMs: 1 },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('times out naming what it waited for and the last error', async () => {
    await expect(
      waitFor(
        'the impossible',
        async () => {
          throw new Error('still broken');
        },
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow('timed out after 0.03 s waiting until the impossible (last error: still broken)');
  });

  it('stops at once on GiveUp', async () => {
    let calls = 0;
    const wait = waitFor(
      'never',
      async () => {
        calls++;
        throw new GiveUp('it exited');
      },
      { timeoutMs: 5_000, intervalMs: 1 },
    );
    await expect(wait).rejects.toThrow('it exited');
    expect(calls).toBe(1);
  });
});

describe('traffic summaries', () => {
  const sample = (atMs: number, status: number, error?: string): TrafficSample => ({
    atMs,
    status,
    latencyMs: 10,
    method: 'GET',
    path: '/api/posts',
    ...(error ? { error } : {}),
  });
  const samples = [sample(0, 200), sample(100, 502), sample(200, 0, 'ECONNRESET'), sample(300, 201)];

  it('counts statuses and errors, and calls every non-2xx or unanswered request failed', () => {
    const summary = summarize(samples);
    expect(summary.total).toBe(4);
    expect(summary.failed).toBe(2);
    expect(summary.byStatus).toEqual({ '0': 1, '200': 1, '201': 1, '502': 1 });
    expect(formatCounts(summary)).toBe('200×1 201×1 502×1 ECONNRESET×1');
  });

  it('measures the outage from the first failure to the end of the last', () => {
    expect(outageMs(samples)).toBe(110);
    expect(outageMs([sample(0, 200)])).toBeNull();
  });

  it('describes each failed request with its time, answer, request id and body', () => {
    const answered = { ...sample(100, 503), requestId: 'abc123', body: '{"statusCode":503}\n' };
    const lines = describeFailures({
      startedAt: Date.parse('2026-01-02T03:04:05.000Z'),
      samples: [sample(0, 200), answered, sample(250, 0, 'ECONNRESET')],
    });
    expect(lines).toEqual([
      '03:04:05.100 +0.10 s GET /api/posts -> 503 after 10 ms X-Request-Id abc123 body {"statusCode":503}',
      '03:04:05.250 +0.25 s GET /api/posts -> ECONNRESET after 10 ms',
    ]);
  });
});
