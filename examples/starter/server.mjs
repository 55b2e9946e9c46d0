// The starter: the smallest app that keeps the stack's app contract, to copy and make yours.
// It renders its page at / (run it with APP_PATHS=all), answers /live and /ready, logs one
// JSON line a request with nginx's request id, and drains on SIGTERM. Node.js alone: add a
// database driver and a framework as your app grows.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect } from 'node:net';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 5000);

const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>My app</title></head>
<body>
<h1>My app</h1>
<p>This page comes from your app, through the stack's nginx, over HTTPS.</p>
</body>
</html>
`;

// Ready while the database takes connections: a driver's ping, once the app has one.
async function databaseAnswers() {
  const socket = connect({ host: process.env.DB_HOST ?? '127.0.0.1', port: Number(process.env.DB_PORT ?? 3306) });
  socket.setTimeout(2_000, () => socket.destroy(new Error('no answer in 2 s')));
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

async function answer(request) {
  const path = new URL(request.url, 'http://app').pathname;
  if (request.method !== 'GET') return [405, 'application/json', '{"error":"Method Not Allowed"}'];
  if (path === '/') return [200, 'text/html; charset=utf-8', page];
  if (path === '/live') return [200, 'application/json', '{"status":"ok"}'];
  if (path === '/ready') {
    return (await databaseAnswers())
      ? [200, 'application/json', '{"status":"ok"}']
      : [503, 'application/json', '{"status":"unavailable"}'];
  }
  return [404, 'application/json', '{"error":"Not Found"}'];
}

// The image's health check: the same file, asking this release's /ready.
if (process.argv.includes('--healthcheck')) {
  const response = await fetch(`http://${host}:${port}/ready`).catch(() => undefined);
  process.exit(response?.ok ? 0 : 1);
}

const server = createServer(async (request, response) => {
  const [status, type, body] = await answer(request);
  response.writeHead(status, { 'content-type': type }).end(body);
  const requestId = request.headers['x-request-id'];
  console.log(JSON.stringify({ time: Date.now(), requestId, method: request.method, url: request.url, status }));
});
// Idle connections outlive nginx's (60 s), so nginx always closes one first.
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => console.log(JSON.stringify({ time: Date.now(), msg: `listening on ${host}:${port}` })));
// Stops accepting, lets the requests in flight finish, then exits.
process.once('SIGTERM', () => server.close(() => process.exit(0)));
