import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWebstack, type Webstack } from 'webstack/testing';

// This project's own app (hello-app/: a Dockerfile and one file) behind the stack's nginx,
// instead of webstack's sample: the fixture builds the folder and runs it as the app.
let webstack: Webstack;
let dispatcher: Agent;

beforeAll(async () => {
  webstack = await startWebstack({ app: { dir: fileURLToPath(new URL('../hello-app', import.meta.url)) } });
  dispatcher = new Agent({ connect: { ca: webstack.ca } });
});

afterAll(async () => {
  await dispatcher?.close();
  await webstack?.stop();
});

it('serves its own route over HTTPS through nginx, with nginx request id, and logs it under that id', async () => {
  const response = await fetch(`${webstack.urls.https}/api/hello`, { dispatcher });
  expect(response.status).toBe(200);
  const requestId = response.headers.get('x-request-id')!;
  expect(await response.json()).toEqual({ message: 'hello from the consumer project', requestId });

  const logs = await webstack.logsFor(requestId);
  expect(logs.nginx).toEqual([expect.objectContaining({ method: 'GET', uri: '/api/hello', status: 200 })]);
  expect(logs.app).toEqual([expect.objectContaining({ method: 'GET', url: '/api/hello', statusCode: 200 })]);
});

it('is the only app: the sample posts API is not there', async () => {
  const response = await fetch(`${webstack.urls.https}/api/posts`, { dispatcher });
  expect(response.status).toBe(404);
});

it('has its own schema from its migrations folder, and none of the sample', async () => {
  expect((await webstack.sql('SELECT version, name FROM schema_migrations')).trim()).toBe('1\t001_visits.sql');
  expect((await webstack.sql('SHOW TABLES')).split('\n').filter(Boolean).sort()).toEqual([
    'schema_migrations',
    'visits',
  ]);
});
