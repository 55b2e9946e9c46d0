import { Agent, fetch, type RequestInit } from 'undici';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startWebstack, type Webstack } from 'webstack/testing';

let webstack: Webstack;
// Trusts the stack's own CA, for these requests only.
let dispatcher: Agent;
const api = (path: string, init: RequestInit = {}) => fetch(`${webstack.urls.https}${path}`, { ...init, dispatcher });

beforeAll(async () => {
  webstack = await startWebstack();
  dispatcher = new Agent({ connect: { ca: webstack.ca } });
});

afterAll(async () => {
  await dispatcher?.close();
  await webstack?.stop();
});

beforeEach(async () => {
  await webstack.reset();
});

it('stores a post over HTTPS through nginx and the app, and logs the request under one id', async () => {
  const created = await api('/api/posts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author: 'consumer', body: 'hello from another project' }),
  });
  expect(created.status).toBe(201);
  const post = (await created.json()) as { id: number };

  const fetched = await api(`/api/posts/${post.id}`);
  expect(await fetched.json()).toEqual(post);
  expect(await webstack.sql('SELECT author, body FROM posts')).toBe('consumer\thello from another project');

  const logs = await webstack.logsFor(created.headers.get('x-request-id')!);
  expect(logs.nginx).toEqual([expect.objectContaining({ method: 'POST', uri: '/api/posts', status: 201 })]);
  expect(logs.app).toContainEqual(expect.objectContaining({ method: 'POST', statusCode: 201 }));
});

it('starts each test without posts, refuses bad input with a 400 naming the field, and plain HTTP only redirects', async () => {
  const listed = await api('/api/posts');
  expect(((await listed.json()) as { posts: unknown[] }).posts).toEqual([]);

  const refused = await api('/api/posts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author: 'consumer', body: '' }),
  });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { details: unknown[] }).details).toContainEqual(
    expect.objectContaining({ field: 'body.body' }),
  );
  expect(await webstack.sql('SELECT COUNT(*) FROM posts')).toBe('0');

  const plain = await fetch(`${webstack.urls.http}/api/posts`, { redirect: 'manual' });
  expect(plain.status).toBe(301);
  expect(plain.headers.get('location')).toBe('https://127.0.0.1/api/posts');
});
