import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startWebstack, type Webstack } from 'webstack/testing';

let webstack: Webstack;

beforeAll(async () => {
  webstack = await startWebstack();
});

afterAll(async () => {
  await webstack?.stop();
});

beforeEach(async () => {
  await webstack.reset();
});

it('stores a post through nginx and the app, and logs the request under one id', async () => {
  const created = await fetch(`${webstack.urls.http}/api/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author: 'consumer', body: 'hello from another project' }),
  });
  expect(created.status).toBe(201);
  const post = await created.json();

  const fetched = await fetch(`${webstack.urls.http}/api/posts/${post.id}`);
  expect(await fetched.json()).toEqual(post);
  expect(await webstack.sql('SELECT author, body FROM posts')).toBe('consumer\thello from another project');

  const logs = await webstack.logsFor(created.headers.get('x-request-id')!);
  expect(logs.nginx).toEqual([expect.objectContaining({ method: 'POST', uri: '/api/posts', status: 201 })]);
  expect(logs.app).toContainEqual(expect.objectContaining({ res: expect.objectContaining({ statusCode: 201 }) }));
});

it('starts each test without posts, and refuses bad input with a 400 naming the field', async () => {
  const listed = await fetch(`${webstack.urls.http}/api/posts`);
  expect((await listed.json()).posts).toEqual([]);

  const refused = await fetch(`${webstack.urls.http}/api/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author: 'consumer', body: '' }),
  });
  expect(refused.status).toBe(400);
  expect((await refused.json()).details).toContainEqual(expect.objectContaining({ field: 'body.body' }));
  expect(await webstack.sql('SELECT COUNT(*) FROM posts')).toBe('0');
});
