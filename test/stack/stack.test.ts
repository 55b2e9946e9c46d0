import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { execIn, logText } from '../../scripts/tool/core/docker.js';
import { request } from '../../scripts/tool/core/http.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await sharedStack();
});

const get = (path: string, host?: string) => request(stack.port, path, host ? { host } : {});
const createPost = (author: string, body: string) =>
  request(stack.port, '/api/posts', { method: 'POST', body: { author, body } });

/** Whether a TCP connection to host:port is accepted within the timeout. */
function canConnect(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

describe('the stack through nginx (docker-compose.yml, repo images)', () => {
  it("switches the upstream with the image's own command, and refuses a bad port without changing anything", async () => {
    const nginx = await stack.container('nginx');
    const run = (...args: string[]) => execIn(nginx, ['switch-upstream', ...args]);
    const workers = async () =>
      (await execIn(nginx, ['sh', '-c', "grep -ls 'worker proces[s]' /proc/[0-9]*/cmdline"])).stdout;
    expect((await run('--show')).stdout.trim()).toBe('5000');
    for (const bad of ['abc', '0', '070', '70000', '']) {
      const refused = await run(bad);
      expect(refused.exitCode, bad).toBe(2);
      expect(refused.stderr, bad).toMatch(/port must be a number from 1 to 65535/);
    }
    expect((await run('--show')).stdout.trim()).toBe('5000');
    // A switch to the same port is a graceful reload: every worker is replaced.
    const before = await workers();
    const switched = await run('5000');
    expect(switched.exitCode, switched.stderr).toBe(0);
    expect(switched.stdout).toMatch(/^upstream: 127\.0\.0\.1:5000 live, \d+ old workers drained in [\d.]+ s$/m);
    const after = await workers();
    expect(after.split('\n').filter((pid) => pid && before.includes(pid))).toEqual([]);
    expect((await get('/api/health/ready')).status).toBe(200);
  });

  it('has an nginx configuration that passes nginx -t', async () => {
    const { exitCode, stdout, stderr } = await execIn(await stack.container('nginx'), ['nginx', '-t']);
    expect(stdout + stderr).toContain('syntax is ok');
    expect(exitCode).toBe(0);
  });

  it('serves the front page and assets from nginx with content types, cache headers and gzip', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('<form id="new-post">');
    expect(page.headers.server).toBe('nginx');

    const script = await request(stack.port, '/assets/app.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^application\/javascript/);
    expect(script.headers['content-encoding']).toBe('gzip');
    expect(script.headers['cache-control']).toBe('public, max-age=3600');

    const css = await get('/assets/style.css');
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('links fingerprinted assets from the page, cached as immutable and sent precompressed', async () => {
    const page = await get('/');
    const linked = [...page.body.matchAll(/"(\/assets\/(style|app)\.[0-9a-f]{10}\.(css|js))"/g)].map(
      (m) => m[1] as string,
    );
    expect(linked).toHaveLength(2);
    const plainCss = await get('/assets/style.css');
    for (const path of linked) {
      const asset = await request(stack.port, path, { headers: { 'accept-encoding': 'gzip' } });
      expect(asset.status, path).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-encoding']).toBe('gzip');
      // gzip_static sends the file made at build time, whose length nginx knows up front.
      expect(Number(asset.headers['content-length'])).toBeGreaterThan(0);
      expect(asset.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    }
    const hashedCss = await get(linked.find((p) => p.endsWith('.css')) as string);
    expect(hashedCss.body).toBe(plainCss.body);
    // A name that merely looks fingerprinted is still a 404.
    expect((await get('/assets/style.0123456789.css')).status).toBe(404);
  });

  it('gives every response an X-Request-Id, and the app logs the same id', async () => {
    const page = await get('/');
    expect(page.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const api = await get('/api/health/live');
    const id = api.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    await waitFor(
      'the app logged the request id',
      async () => (await logText(await stack.container('app'))).includes(`"requestId":"${id}"`),
      { timeoutMs: 10_000 },
    );
  });

  it('round-trips a post: browser → nginx → app → MySQL and back', async () => {
    const created = await createPost('round trip', 'through nginx 🌐');
    expect(created.status).toBe(201);
    const post = created.json();
    expect(created.headers.location).toBe(`/api/posts/${post.id}`);
    const fetched = await get(`/api/posts/${post.id}`);
    expect(fetched.json()).toEqual(post);
    const listed = (await get('/api/posts?limit=5')).json();
    expect(listed.posts[0]).toEqual(post);
  });

  it('answers bad input with 400 naming the field', async () => {
    const response = await request(stack.port, '/api/posts', { method: 'POST', body: { author: 'x', body: '' } });
    expect(response.status).toBe(400);
    expect(response.json().details).toContainEqual(expect.objectContaining({ field: 'body.body', rule: 'minLength' }));
  });

  it('refuses a body over 16 KiB in nginx with 413 JSON', async () => {
    const response = await request(stack.port, '/api/posts', {
      method: 'POST',
      body: { author: 'x', body: 'y'.repeat(20_000) },
    });
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('redirects foobar.com to www.foobar.com, keeping the path', async () => {
    const response = await get('/api/posts?limit=1', 'foobar.com');
    expect(response.status).toBe(301);
    expect(response.headers.location).toBe('https://www.foobar.com/api/posts?limit=1');
  });

  it('answers port 80 only with redirects to https (path and query kept) and the ACME challenge path', async () => {
    const plain = (path: string, host: string) => request(stack.httpPort, path, { host });
    const www = await plain('/api/posts?limit=1&x=%C3%A9', 'www.foobar.com');
    expect(www.status).toBe(301);
    expect(www.headers.location).toBe('https://www.foobar.com/api/posts?limit=1&x=%C3%A9');
    expect(www.headers['x-content-type-options']).toBe('nosniff');
    expect((await plain('/a?b=c', 'foobar.com')).headers.location).toBe('https://www.foobar.com/a?b=c');
    expect((await plain('/', 'localhost')).headers.location).toBe('https://localhost/');
    const challenge = await plain('/.well-known/acme-challenge/not-there', 'www.foobar.com');
    expect(challenge.status).toBe(404);
    expect(challenge.headers.location).toBeUndefined();
    expect((await plain('/', 'evil.example')).status).toBe(421);
  });

  it("sends no HSTS with the local CA's certificate", async () => {
    expect((await get('/')).headers['strict-transport-security']).toBeUndefined();
  });

  it('serves localhost and a bare IP, and no site for unknown host names', async () => {
    expect((await get('/', 'localhost')).status).toBe(200);
    expect((await get('/', '127.0.0.1')).status).toBe(200);
    // The handshake names the site (SNI), the request another host: still no site.
    const unknown = await request(stack.port, '/', { host: 'evil.example', servername: 'www.foobar.com' });
    expect(unknown.status).toBe(421);
    expect(unknown.json()).toMatchObject({ statusCode: 421 });
    expect(unknown.body).not.toContain('<form');
  });

  it('never serves hidden files and answers unknown paths with the HTML 404 page', async () => {
    for (const path of ['/.env', '/.git/config', '/assets/.hidden']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(response.body).toContain('Page not found');
    }
  });

  it('exposes only nginx: 80 and 443 are the only published ports, 5000 and 3306 refuse outside connections', async () => {
    const info = await (await stack.container('server')).inspect();
    expect(Object.keys(info.NetworkSettings.Ports ?? {}).sort()).toEqual(['443/tcp', '80/tcp']);
    const address = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
    expect(address).toBeTruthy();
    // From the host, as any other machine on the network would: only nginx answers.
    expect(await canConnect(address!, 80)).toBe(true);
    expect(await canConnect(address!, 443)).toBe(true);
    expect(await canConnect(address!, 5000)).toBe(false);
    expect(await canConnect(address!, 3306)).toBe(false);
    // Inside the namespace both are there, on loopback.
    expect(
      (await execIn(await stack.container('nginx'), ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/5000'])).exitCode,
    ).toBe(0);
    expect(
      (await execIn(await stack.container('nginx'), ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/3306'])).exitCode,
    ).toBe(0);
  });
});

describe('failures of one part (the single point of failure, contained)', () => {
  it('while the app is down: /api/ is a JSON 502, the site still loads; then it recovers', async () => {
    const app = await stack.container('app');
    await app.stop({ t: 10 });
    try {
      const api = await get('/api/posts');
      expect(api.status).toBe(502);
      expect(api.headers['content-type']).toMatch(/^application\/json/);
      expect(api.json()).toMatchObject({ statusCode: 502, error: 'Bad Gateway' });
      expect(api.headers['retry-after']).toBe('5');
      // Static files never needed the app: nginx serves them itself.
      const page = await get('/');
      expect(page.status).toBe(200);
      expect((await get('/assets/app.js')).status).toBe(200);
    } finally {
      await app.start();
    }
    await waitUntilReady(stack.port);
  });

  it('keeps data across an app restart', async () => {
    const post = (await createPost('survivor', 'before app restart')).json();
    await (await stack.container('app')).restart({ t: 10 });
    await waitUntilReady(stack.port);
    expect((await get(`/api/posts/${post.id}`)).json()).toEqual(post);
  });

  it('keeps data across a database container restart, and the pool recovers without an app restart', async () => {
    const post = (await createPost('survivor', 'before db restart')).json();
    const appStartedAt = (await (await stack.container('app')).inspect()).State.StartedAt;
    await (await stack.container('db')).restart({ t: 30 });
    await waitUntilReady(stack.port);
    expect((await get(`/api/posts/${post.id}`)).json()).toEqual(post);
    expect((await createPost('after', 'db restart')).status).toBe(201);
    expect((await (await stack.container('app')).inspect()).State.StartedAt).toBe(appStartedAt);
  });

  it('reports ready 503 with a JSON reason while the database is stopped, 200 once it is back', async () => {
    const db = await stack.container('db');
    await db.stop({ t: 30 });
    try {
      await waitFor('ready turns 503', async () => (await get('/api/health/ready')).status === 503, {
        timeoutMs: 30_000,
      });
      const ready = await get('/api/health/ready');
      expect(ready.json()).toMatchObject({
        status: 'unavailable',
        reason: expect.stringMatching(/^database unreachable/),
      });
      expect((await get('/api/health/live')).status).toBe(200);
      // Requests that need the database: a clean JSON 503, no internals.
      const list = await get('/api/posts');
      expect(list.status).toBe(503);
      expect(list.json()).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the database is unavailable; try again shortly',
      });
    } finally {
      await db.start();
    }
    await waitUntilReady(stack.port);
    expect((await get('/api/posts')).status).toBe(200);
  });
});
