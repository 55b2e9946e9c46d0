import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/src/config.js';
import { startAppWithDatabase, type TestApp } from '../support/app.js';

let testApp: TestApp;
let app: FastifyInstance;

beforeAll(async () => {
  testApp = await startAppWithDatabase();
  app = testApp.app;
});

afterAll(async () => {
  await testApp?.stop();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/api/posts', payload: payload as object, headers });

async function countPosts(): Promise<number> {
  const [rows] = await app.db.query('SELECT COUNT(*) AS n FROM posts');
  return Number((rows as Array<{ n: number }>)[0]?.n);
}

describe('posts API (inject, real database)', () => {
  it('stores a post and returns it with 201, Location and the stored fields', async () => {
    const response = await post({ author: 'ada', body: 'first post' });
    expect(response.statusCode).toBe(201);
    const created = response.json();
    expect(created).toMatchObject({ author: 'ada', body: 'first post' });
    expect(created.id).toBeTypeOf('number');
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
    expect(response.headers.location).toBe(`/api/posts/${created.id}`);

    const fetched = await app.inject(`/api/posts/${created.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toEqual(created);
  });

  it('stores and returns text exactly, full Unicode included', async () => {
    const samples = [
      'emoji 🚀👩🏽‍💻 and flags 🇫🇷',
      'combining: e\u0301 vs é; RTL: שלום; CJK: 漢字',
      `quotes ' " \\ and SQL '); DROP TABLE posts; --`,
      '<script>alert(1)</script> & <b>html</b>',
      '  leading and trailing spaces  ',
      'line\nbreaks\r\nand\ttabs',
      '\u0000 a NUL byte',
    ];
    for (const body of samples) {
      const created = (await post({ author: 'ünïcødé 😀', body })).json();
      expect(created.body).toBe(body);
      const stored = (await app.inject(`/api/posts/${created.id}`)).json();
      expect(stored.body).toBe(body);
      expect(stored.author).toBe('ünïcødé 😀');
    }
  });

  it('counts limits in characters, not bytes: 64 emoji are a valid author, 65 are not', async () => {
    expect((await post({ author: '😀'.repeat(64), body: 'x' })).statusCode).toBe(201);
    expect((await post({ author: '😀'.repeat(65), body: 'x' })).statusCode).toBe(400);
    expect((await post({ author: 'a', body: '字'.repeat(2000) })).statusCode).toBe(201);
  });

  it('pages newest first with a keyset cursor and no gaps or repeats', async () => {
    for (let i = 0; i < 7; i++) await post({ author: 'pager', body: `page item ${i}` });
    const seen: number[] = [];
    let next: number | null = null;
    let pages = 0;
    do {
      const url: string = `/api/posts?limit=3${next ? `&before=${next}` : ''}`;
      const response = await app.inject(url);
      expect(response.statusCode).toBe(200);
      const page = response.json();
      expect(page.posts.length).toBeLessThanOrEqual(3);
      seen.push(...page.posts.map((p: { id: number }) => p.id));
      next = page.next;
      pages++;
    } while (next !== null && pages < 100);
    const total = await countPosts();
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('defaults to 20 posts and says when there is no next page', async () => {
    for (let i = 0; i < 21; i++) await post({ author: 'bulk', body: `bulk ${i}` });
    const page = (await app.inject('/api/posts')).json();
    expect(page.posts).toHaveLength(20);
    expect(page.next).toBe(page.posts[19].id);
    const last = (await app.inject(`/api/posts?before=${page.posts[0].id + 1}&limit=100`)).json();
    expect(last.next).toBeNull();
  });

  it('answers 404 JSON for a missing post and an unknown route', async () => {
    const missing = await app.inject('/api/posts/999999999');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ statusCode: 404, error: 'Not Found', message: 'no post with id 999999999' });
    const unknown = await app.inject('/api/nothing-here');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain('/api/nothing-here');
  });

  it('echoes the request id it was given and makes one up otherwise', async () => {
    const given = await app.inject({ url: '/api/health/live', headers: { 'x-request-id': 'abc123' } });
    expect(given.headers['x-request-id']).toBe('abc123');
    const made = await app.inject('/api/health/live');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('runs with the configured body limit and keep-alive timeout (test/app/limits-agree.test.ts checks them)', async () => {
    const config = loadConfig({ ...testApp.db.env });
    expect(app.initialConfig).toMatchObject({
      bodyLimit: config.BODY_LIMIT_BYTES,
      keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    });
    const before = await countPosts();
    const padding = config.BODY_LIMIT_BYTES - JSON.stringify({ author: 'big', body: '' }).length;
    // At the limit the body is read and validated (too long a post); one byte more is refused unread.
    expect((await post({ author: 'big', body: 'x'.repeat(padding) })).statusCode).toBe(400);
    const tooBig = await post({ author: 'big', body: 'x'.repeat(padding + 1) });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(await countPosts()).toBe(before);
  });

  it.each(['', '/api/health'])(
    'reports live and ready at %s/live and /ready while the database answers',
    async (prefix) => {
      expect((await app.inject(`${prefix}/live`)).json()).toEqual({ status: 'ok' });
      const ready = await app.inject(`${prefix}/ready`);
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ok' });
    },
  );
});

describe('bad input gets a clear 4xx and changes nothing', () => {
  const cases: Array<{ name: string; payload: unknown; field: string; rule: string }> = [
    { name: 'missing author', payload: { body: 'x' }, field: 'body.author', rule: 'required' },
    { name: 'missing body', payload: { author: 'x' }, field: 'body.body', rule: 'required' },
    { name: 'empty author', payload: { author: '', body: 'x' }, field: 'body.author', rule: 'minLength' },
    { name: 'empty body', payload: { author: 'x', body: '' }, field: 'body.body', rule: 'minLength' },
    {
      name: 'author too long',
      payload: { author: 'a'.repeat(65), body: 'x' },
      field: 'body.author',
      rule: 'maxLength',
    },
    { name: 'body too long', payload: { author: 'x', body: 'b'.repeat(2001) }, field: 'body.body', rule: 'maxLength' },
    { name: 'number for author', payload: { author: 42, body: 'x' }, field: 'body.author', rule: 'type' },
    { name: 'null body', payload: { author: 'x', body: null }, field: 'body.body', rule: 'type' },
    { name: 'array body', payload: { author: 'x', body: ['y'] }, field: 'body.body', rule: 'type' },
    { name: 'extra field', payload: { author: 'x', body: 'y', id: 7 }, field: 'body.id', rule: 'additionalProperties' },
    { name: 'array instead of object', payload: [{ author: 'x', body: 'y' }], field: 'body', rule: 'type' },
  ];

  for (const { name, payload, field, rule } of cases) {
    it(`POST with ${name} → 400 naming ${field} and ${rule}`, async () => {
      const before = await countPosts();
      const response = await post(payload);
      expect(response.statusCode).toBe(400);
      const problem = response.json();
      expect(problem).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(problem.details).toContainEqual(expect.objectContaining({ field, rule }));
      expect(problem.message).toContain(field);
      expect(await countPosts()).toBe(before);
    });
  }

  it('reports every problem of a request at once', async () => {
    const problem = (await post({ author: 1, body: '', extra: true })).json();
    expect(problem.details.map((d: { field: string }) => d.field).sort()).toEqual([
      'body.author',
      'body.body',
      'body.extra',
    ]);
  });

  it('malformed, truncated or empty JSON → 400', async () => {
    const before = await countPosts();
    for (const raw of ['{"author": "x", "body": ', '{author: x}', 'nope', '']) {
      const response = await post(raw, { 'content-type': 'application/json' });
      expect(response.statusCode, raw).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
    expect(await countPosts()).toBe(before);
  });

  it('a body that is not JSON → 415 saying what is accepted', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await post('author=x&body=y', { 'content-type': type });
      expect(response.statusCode, type).toBe(415);
      expect(response.json().message).toBe('Content-Type must be application/json');
    }
  });

  it('bad query and path parameters → 400 naming them', async () => {
    const checks: Array<[string, string]> = [
      ['/api/posts?limit=0', 'querystring.limit'],
      ['/api/posts?limit=101', 'querystring.limit'],
      ['/api/posts?limit=ten', 'querystring.limit'],
      ['/api/posts?before=-1', 'querystring.before'],
      ['/api/posts?sort=asc', 'querystring.sort'],
      ['/api/posts/abc', 'params.id'],
      ['/api/posts/0', 'params.id'],
    ];
    for (const [url, field] of checks) {
      const response = await app.inject(url);
      expect(response.statusCode, url).toBe(400);
      expect(response.json().details, url).toContainEqual(expect.objectContaining({ field }));
    }
  });
});

// Last in the file: drain() is for good (a process that calls it is shutting down).
describe('shutting down behind a proxy that keeps connections alive', () => {
  it('keeps connections alive until drain(), then every answer, errors included, closes its connection', async () => {
    expect((await app.inject('/api/posts?limit=1')).headers.connection).not.toBe('close');
    app.drain();
    for (const response of [
      await app.inject('/api/posts?limit=1'),
      await post({ author: 'ada', body: 'while draining' }),
      await app.inject('/api/posts/abc'),
    ]) {
      expect(response.statusCode).toBeLessThan(500);
      expect(response.headers.connection).toBe('close');
    }
  });
});
