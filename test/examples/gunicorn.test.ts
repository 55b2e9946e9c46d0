import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, sumOf } from '../../nginx/monitor/src/prometheus-text.js';
import { ensureBaseImages } from '../../scripts/tool/core/base-images.js';
import { compose, type ComposeRunner } from '../../scripts/tool/core/compose.js';
import { buildImage, docker, logText, signalMainProcess } from '../../scripts/tool/core/docker.js';
import { request, type HttpRequest } from '../../scripts/tool/core/http.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { formatCounts, runTraffic } from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { backup, restore } from '../../scripts/tool/local/backup.js';
import { deploy } from '../../scripts/tool/local/deploy.js';
import { previousTag, splitRef } from '../../scripts/tool/local/release.js';
import { isolatedEnv, stackProjectName, startStack, type Stack } from '../../scripts/tool/testing/stack.js';
import { isCleanJsonError, statusAuthorization } from '../support/http.js';
import { rawRequest } from '../support/raw-http.js';

// The guestbook (Flask and PyMySQL on gunicorn) in place of the sample app: the stack's
// own docker-compose.yml with the example's compose file layered on it (APP_PATHS=all).
const EXAMPLE = `${REPO_ROOT}examples/gunicorn/`;
const OVERRIDES = [`${EXAMPLE}compose.yml`];

let stack: Stack;
/** The example's image, as compose builds and names it. */
let exampleImage: string;
/** The operations commands on this stack, with the example's compose file layered as for `up`. */
const withExample: ComposeRunner = (project, args, env) => compose(project, args, env, OVERRIDES);
const quiet = () => undefined;

beforeAll(async () => {
  // The Debian image the example starts from, as scripts/up chooses it (the local stand-ins' base here).
  const env = { DEBIAN_IMAGE: (await ensureBaseImages(process.env, quiet)).DEBIAN_IMAGE! };
  // Only the example's image: the stack's own are built once for every file (global setup).
  // Built as compose describes it (image name, context, arguments), by the engine's builder,
  // whose layer cache the other builds of this machine share.
  const project = stackProjectName();
  const config = JSON.parse(
    await compose(project, ['config', '--format', 'json'], isolatedEnv(process.env, env), OVERRIDES),
  ) as { services: { app: { image: string; build: { context: string; args: Record<string, string> } } } };
  const { image, build } = config.services.app;
  exampleImage = image;
  await buildImage(build.context, image, build.args);
  stack = await startStack({ project, overrides: OVERRIDES, env });
}, 600_000);

afterAll(async () => {
  await stack?.stop();
  // The deploy left the example's name on the second release and recorded the built image
  // as <tag>-previous: the name goes back to the built image (the next run's build cache),
  // and the tags this file made go.
  if (exampleImage) {
    const { repo, tag } = splitRef(exampleImage);
    const previous = docker.getImage(`${repo}:${previousTag(tag)}`);
    await previous.tag({ repo, tag }).catch(() => undefined);
    for (const ref of [`${repo}:${previousTag(tag)}`, secondRelease()])
      await docker
        .getImage(ref)
        .remove()
        .catch(() => undefined);
  }
});

/** A release of the example that differs from the live one by a label: a deploy is observable. */
const secondRelease = () => `${exampleImage}-second`;

const send = (path: string, options: HttpRequest = {}) => request(stack.port, path, options);
const addEntry = (body: unknown) => send('/api/entries', { method: 'POST', body: JSON.stringify(body), headers: json });
const json = { 'content-type': 'application/json' };
const form = (fields: Record<string, string>) =>
  send('/', {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
const ready = async () => (await send('/ready')).status === 200;
/** The stored entries under one name, by id: what a load's acknowledged writes are checked against. */
const storedMessages = async (name: string) =>
  new Map(
    (await stack.sql(`SELECT id, message FROM entries WHERE name = '${name}'`))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t') as [string, string])
      .map(([id, message]) => [Number(id), message]),
  );
const storedIds = async () => new Set((await stack.sql('SELECT id FROM entries')).split('\n').filter(Boolean));

describe('the guestbook through nginx (Python on gunicorn, APP_PATHS=all)', () => {
  it("has its own schema, applied by the stack's migrate service before it started", async () => {
    expect((await stack.sql('SELECT version, name FROM schema_migrations ORDER BY version')).trim()).toBe(
      '1\t001_entries.sql',
    );
  });

  it('renders its own page with the entries and a form; a form post adds one (303 to the page)', async () => {
    expect((await addEntry({ name: 'Ada', message: 'Hello from the API' })).status).toBe(201);
    const signed = await form({ name: 'Grace', message: 'Signed with the form' });
    expect(signed.status).toBe(303);
    expect(signed.headers.location).toBe('/');
    const page = await send('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<form method="post" action="/">');
    expect(page.body).toContain('Hello from the API');
    expect(page.body.indexOf('Signed with the form')).toBeLessThan(page.body.indexOf('Hello from the API'));
  });

  it('creates and reads entries through the JSON API', async () => {
    const created = await addEntry({ name: '  Lin  ', message: 'Ni hao 🌐' });
    expect(created.status).toBe(201);
    const entry = created.json();
    expect(entry).toMatchObject({ name: 'Lin', message: 'Ni hao 🌐' });
    expect(entry.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(created.headers.location).toBe(`/api/entries/${entry.id}`);
    expect((await send(created.headers.location!)).json()).toEqual(entry);
    expect((await send('/api/entries?limit=1')).json()).toEqual({ entries: [entry] });
    const missing = await send('/api/entries/999999999');
    expect(missing.status).toBe(404);
    expect(isCleanJsonError(404, missing.body, missing.headers['content-type'])).toBe(true);
  });

  it('answers bad input with 400 JSON naming the field, and stores nothing', async () => {
    const before = await storedIds();
    const cases: Array<[unknown, string]> = [
      [{ name: '', message: 'no name' }, 'name'],
      [{ name: 'no message' }, 'message'],
      [{ name: 'x', message: 'y'.repeat(1001) }, 'message'],
      [{ name: 'x', message: 'y', admin: true }, 'admin'],
      [['not', 'an', 'object'], 'body'],
    ];
    for (const [body, field] of cases) {
      const response = await addEntry(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(isCleanJsonError(400, response.body, response.headers['content-type'])).toBe(true);
      expect(response.json().field).toBe(field);
    }
    const limit = await send('/api/entries?limit=0');
    expect(limit.status).toBe(400);
    expect(limit.json().field).toBe('limit');
    const badForm = await form({ name: 'Only a name', message: '   ' });
    expect(badForm.status).toBe(400);
    expect(badForm.body).toContain('message must not be empty');
    expect(await storedIds()).toEqual(before);
  });

  it('escapes markup from users in the page', async () => {
    const markup = '<script>alert(1)</script>';
    const created = await addEntry({ name: markup, message: '<img src=x onerror=alert(2)> & "quoted"' });
    expect(created.status).toBe(201);
    expect(created.json().name).toBe(markup);
    const page = (await send('/')).body;
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(2)&gt; &amp; &#34;quoted&#34;');
    expect(page).not.toContain('<script');
    expect(page).not.toContain('<img');
    // Echoed back into the form after a refused post, still escaped.
    const refused = await form({ name: '"><script>alert(3)</script>', message: '' });
    expect(refused.status).toBe(400);
    expect(refused.body).not.toContain('<script');
  });

  it("sends nginx's security headers on its pages and API answers, and the app logs nginx's request id", async () => {
    for (const path of ['/', '/api/entries', '/api/entries/0']) {
      const response = await send(path);
      expect(response.headers['content-security-policy'], path).toContain("default-src 'self'");
      expect(response.headers['x-content-type-options'], path).toBe('nosniff');
      expect(response.headers['x-frame-options'], path).toBe('DENY');
      expect(response.headers['referrer-policy'], path).toBe('no-referrer');
      expect(response.headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(response.headers['x-request-id'], path).toMatch(/^[0-9a-f]{32}$/);
    }
    const id = (await send('/api/entries')).headers['x-request-id'] as string;
    const line = await waitFor(
      'the app logged the request with its id',
      async () =>
        (await logText(await stack.container('app')))
          .split('\n')
          .filter((text) => text.includes(id))
          .map((text) => JSON.parse(text) as Record<string, unknown>)[0],
      { timeoutMs: 10_000 },
    );
    expect(line).toMatchObject({ requestId: id, method: 'GET', path: '/api/entries', status: 200 });
  });

  it('redirects plain HTTP to HTTPS and answers unknown host names with 421', async () => {
    const plain = await request(stack.httpPort, '/?page=2', { host: 'www.foobar.com' });
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe('https://www.foobar.com/?page=2');
    expect((await request(stack.httpPort, '/', { host: 'evil.example' })).status).toBe(421);
    const unknown = await send('/', { host: 'evil.example', servername: 'www.foobar.com' });
    expect(unknown.status).toBe(421);
    expect(unknown.body).not.toContain('<form');
  });

  it('refuses a body over the limit in nginx with 413 JSON, and keeps /internal/ private', async () => {
    const before = await storedIds();
    const response = await addEntry({ name: 'big', message: 'y'.repeat(20_000) });
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(await storedIds()).toEqual(before);
    // The app's metrics are for the monitor on loopback, not for the world.
    const internal = await send('/internal/metrics');
    expect(internal.status).toBe(404);
    expect(internal.body).not.toContain('process_start_time_seconds');
  });

  it('is seen up on /status by the monitor', async () => {
    const auth = { authorization: statusAuthorization(stack.env.STATUS_PASSWORD) };
    await waitFor(
      'the monitor sees the app and the database up',
      async () => {
        const response = await send('/status/metrics', { headers: auth });
        const samples = parsePrometheusText(response.body);
        return ['app', 'db'].every((part) => sumOf(samples, 'webstack_up', { part }) === 1);
      },
      { timeoutMs: 30_000 },
    );
  });
});

describe('the stack around the guestbook: slow clients, a deploy under load, backup and restore', () => {
  it('keeps its threads free of slow uploads: nginx takes the bodies first, and pages answer meanwhile', async () => {
    // gunicorn serves WEB_CONCURRENCY x threads = 8 requests at once; more slow uploads than
    // that would hold every thread if nginx passed them on as they trickle in.
    const tag = randomBytes(4).toString('hex');
    const uploads = Array.from({ length: 12 }, (_, i) => {
      const body = JSON.stringify({ name: `slow-${tag}`, message: `upload ${i}` });
      const [head, tail] = [body.slice(0, -8), body.slice(-8)];
      const upload = { answered: false, response: Promise.resolve({ status: 0 }) };
      upload.response = rawRequest(
        stack.port,
        `POST /api/entries HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head}`,
        // One byte every 2 s: within nginx's 10 s client_body_timeout, 16 s in all.
        { trickle: { bytes: tail, intervalMs: 2_000 }, timeoutMs: 60_000 },
      ).finally(() => (upload.answered = true));
      return upload;
    });
    await sleep(1_000);
    const pages = await Promise.all(Array.from({ length: 8 }, () => send('/')));
    expect(pages.map((page) => page.status)).toEqual(Array(8).fill(200));
    expect(uploads.filter((upload) => upload.answered)).toHaveLength(0);
    const answers = await Promise.all(uploads.map((upload) => upload.response));
    expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(201));
    expect((await stack.sql(`SELECT COUNT(*) FROM entries WHERE name = 'slow-${tag}'`)).trim()).toBe('12');
  });

  it('deploys a new release of it under load with no failed request', async () => {
    const context = mkdtempSync(join(tmpdir(), 'wsi-example-release-'));
    writeFileSync(join(context, 'Dockerfile'), `FROM ${exampleImage}\nLABEL webstack.release=second\n`);
    await buildImage(context, secondRelease());
    rmSync(context, { recursive: true });
    const original = (await (await stack.container('app')).inspect()).Image;
    const tag = randomBytes(4).toString('hex');
    const acknowledged = new Map<number, string>();
    let written = 0;
    const target = { project: stack.project, env: stack.env, compose: withExample, log: quiet };
    // The rollback is the same switch the other way; the sample's deploy test runs it.
    const operations = (async () => {
      await sleep(1_000);
      const deployed = await deploy({ ...target, image: secondRelease() });
      await sleep(1_000);
      return deployed;
    })();
    const load = await runTraffic({
      port: stack.port,
      connections: 8,
      until: operations,
      maxDurationMs: 240_000,
      mix: [
        { weight: 3, path: '/' },
        {
          weight: 1,
          path: '/api/entries',
          options: () => ({ method: 'POST', body: { name: `deploy-${tag}`, message: `write ${written++}` } }),
        },
      ],
      onResponse: (_request, response) => {
        if (response.status === 201) {
          const entry = response.json<{ id: number; message: string }>();
          acknowledged.set(entry.id, entry.message);
        }
      },
    });
    const deployed = await operations;
    console.log(`guestbook deploy: ${load.total} requests, ${load.failed} failed (${formatCounts(load)})`);
    expect(load.errors).toEqual({});
    expect(load.failed).toBe(0);
    expect(acknowledged.size).toBeGreaterThan(0);
    // The second release is the one serving now, in compose's own app container.
    expect(deployed.previous).toBe(original);
    expect(deployed.live).not.toBe(original);
    expect((await (await stack.container('app')).inspect()).Image).toBe(deployed.live);
    const stored = await storedMessages(`deploy-${tag}`);
    expect([...acknowledged].filter(([id, message]) => stored.get(id) !== message)).toEqual([]);
  }, 600_000);

  it('backs up its own tables and restores every entry after the database is dropped', async () => {
    for (const message of ['before the backup ✓', 'ünïcödé 𝄞 and "quotes"'])
      expect((await addEntry({ name: 'backup', message })).status).toBe(201);
    const rows = () => stack.sql('SELECT id, name, message, created_at FROM entries ORDER BY id');
    const before = await rows();
    const dir = mkdtempSync(join(tmpdir(), 'wsi-example-backups-'));
    try {
      const { file } = await backup({ project: stack.project, env: stack.env, dir, log: quiet });
      await stack.sql(`DROP DATABASE ${stack.env.MYSQL_DATABASE}`);
      await restore({ project: stack.project, env: stack.env, file, yes: true, log: quiet });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await rows()).toBe(before);
    expect((await send('/')).body).toContain('before the backup ✓');
    const lastId = Math.max(
      ...before
        .trim()
        .split('\n')
        .map((line) => Number(line.split('\t')[0])),
    );
    const next = await addEntry({ name: 'backup', message: 'after the restore' });
    expect(next.status).toBe(201);
    expect(next.json<{ id: number }>().id).toBeGreaterThan(lastId);
  });
});

describe('faults of the guestbook (restart policy, drain)', () => {
  it('comes back after a kill -9 under writes, with every acknowledged write stored', async () => {
    const acknowledged = new Map<number, string>();
    const tag = randomBytes(4).toString('hex');
    let written = 0;
    const kill = sleep(1_500).then(async () => signalMainProcess(await stack.container('app'), 'SIGKILL'));
    await runTraffic({
      port: stack.port,
      connections: 4,
      durationMs: 60_000,
      until: kill.then(() => waitFor('the app answers again', ready, { timeoutMs: 60_000 })),
      mix: [
        {
          weight: 1,
          path: '/api/entries',
          options: () => ({ method: 'POST', body: { name: `kill-${tag}`, message: `write ${written++}` } }),
        },
      ],
      onResponse: (_request, response) => {
        if (response.status !== 201) {
          // While the app is down nginx answers for it, in JSON.
          expect([502, 503]).toContain(response.status);
          expect(isCleanJsonError(response.status, response.body, response.headers['content-type'])).toBe(true);
          return;
        }
        const entry = response.json<{ id: number; message: string }>();
        acknowledged.set(entry.id, entry.message);
      },
    });
    await kill;
    const stored = await storedMessages(`kill-${tag}`);
    expect(acknowledged.size).toBeGreaterThan(0);
    expect([...acknowledged].filter(([id, message]) => stored.get(id) !== message)).toEqual([]);
    expect((await (await stack.container('app')).inspect()).RestartCount).toBeGreaterThanOrEqual(1);
  });
});
