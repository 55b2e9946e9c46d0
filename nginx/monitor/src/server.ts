import closeWithGrace from 'close-with-grace';
import Fastify, { LogController } from 'fastify';
import { Alerting } from './alerting.js';
import { loadMonitorConfig } from './config.js';
import { Monitor } from './monitor.js';
import { recentAppRequest } from './sources.js';

/**
 * The monitor: the stack's own process, in the server namespace on loopback, apart from
 * the app. It keeps working while the app is down, which is when the status page matters most.
 * nginx serves the page and proxies /status/events, /status/requests/ and
 * /status/metrics here behind basic auth; nothing else can reach it.
 */
const TICK_MS = 1_000;

let config;
try {
  config = loadMonitorConfig();
} catch (err) {
  process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
  process.exit(1);
}

const app = Fastify({
  logger: { level: config.LOG_LEVEL },
  requestIdHeader: 'x-request-id',
  logController: new LogController({ requestIdLogLabel: 'requestId' }),
  // A page left open holds one events connection; ending them must not wait for that.
  forceCloseConnections: true,
});
const alerting = await Alerting.start(config, app.log);
const monitor = new Monitor(config, (err, message) => app.log.warn({ err }, message), alerting);
const listeners = new Set<(data: string) => void>();

app.get(
  '/health',
  // Docker asks every 3 s: not worth two log lines each time.
  { logLevel: 'warn', schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
  async () => ({
    status: 'ok',
  }),
);

app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_request, reply) => {
  reply.type(monitor.metrics.register.contentType);
  // The app's own exposition follows the monitor's (no name is in both).
  return `${await monitor.metrics.register.metrics()}${monitor.appMetricsText ?? ''}`;
});

// Server-sent events: the snapshot now, then after every tick.
app.get('/events', async (request, reply) => {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  const send = (data: string) => reply.raw.write(`data: ${data}\n\n`);
  if (monitor.latest) send(JSON.stringify(monitor.latest));
  listeners.add(send);
  request.raw.on('close', () => listeners.delete(send));
});

app.get<{ Params: { id: string } }>(
  '/requests/:id',
  {
    schema: {
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' } },
      },
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  },
  async (request, reply) => {
    const { id } = request.params;
    const nginx = monitor.nginxLog.get(id);
    const appUrl = monitor.appUrl;
    const inApp = appUrl ? await recentAppRequest(appUrl, id).catch(() => undefined) : undefined;
    if (!nginx && !inApp) {
      return reply
        .code(404)
        .send({ statusCode: 404, error: 'Not Found', message: `request ${id} is not among the recent ones` });
    }
    return { id, nginx: nginx ?? null, app: inApp ?? null };
  },
);

let ticking = false;
const timer = setInterval(() => {
  if (ticking) return;
  ticking = true;
  monitor
    .tick()
    .then(() => {
      const data = JSON.stringify(monitor.latest);
      for (const send of listeners) send(data);
    })
    .catch((err: unknown) => app.log.error({ err }, 'monitor tick failed'))
    .finally(() => {
      ticking = false;
    });
}, TICK_MS);

closeWithGrace({ delay: 5_000, logger: app.log }, async () => {
  clearInterval(timer);
  // An event already taken off the alerts that are on is sent now or never: the grace's delay bounds the wait.
  await alerting.idle();
  await app.close();
  await monitor.close();
});

await app.listen({ host: config.MONITOR_HOST, port: config.MONITOR_PORT });
