// A tiny app that keeps the stack's app contract: it listens on HOST:PORT, answers /live
// and /ready (ready once the database accepts connections), logs one JSON line per request
// to stdout with nginx's request id, and finishes its requests and exits on SIGTERM.
import { createServer } from 'node:http';
import { connect } from 'node:net';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 5000);

const databaseAnswers = () =>
  new Promise((resolve) => {
    const socket = connect({ host: process.env.DB_HOST ?? '127.0.0.1', port: Number(process.env.DB_PORT ?? 3306) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true)).once('error', () => done(false));
  });

const routes = {
  '/live': async () => [200, { status: 'ok' }],
  '/ready': async () => ((await databaseAnswers()) ? [200, { status: 'ok' }] : [503, { status: 'unavailable' }]),
  '/api/hello': async (request) => [
    200,
    { message: 'hello from the consumer project', requestId: request.headers['x-request-id'] ?? null },
  ],
};

const server = createServer(async (request, response) => {
  const route = request.method === 'GET' ? routes[new URL(request.url, 'http://app').pathname] : undefined;
  const [status, body] = route ? await route(request) : [404, { error: 'Not Found' }];
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const requestId = request.headers['x-request-id'];
  console.log(
    JSON.stringify({ time: Date.now(), requestId, method: request.method, url: request.url, statusCode: status }),
  );
});

server.listen(port, host, () => console.log(JSON.stringify({ time: Date.now(), msg: `listening on ${host}:${port}` })));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
