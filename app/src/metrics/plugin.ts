import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorBody, errorResponses } from '../errors.js';
import { requestDbTime, timeQueries, type DbTime } from './db-timing.js';
import { RecentRequests } from './recent-requests.js';

declare module 'fastify' {
  interface FastifyRequest {
    dbTime: DbTime;
  }
  interface FastifyContextConfig {
    /** A route machines ask all the time (a probe): not traffic, so not counted. */
    untracked?: boolean;
  }
}

/** Under this prefix the app answers only on its loopback port: nginx proxies /api/ alone. */
export const INTERNAL_PREFIX = '/internal';
const RECENT_REQUESTS = 2000;
// Seconds; the API answers in single milliseconds on loopback, so the low end is fine-grained.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// The mysql2 core pool's queues: not public API, read only to report the pool's state.
interface CorePool {
  _allConnections: { length: number };
  _freeConnections: { length: number };
  _connectionQueue: { length: number };
  config: { connectionLimit: number };
}

const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

/**
 * Prometheus metrics of the app (prom-client), Server-Timing on every response, and a
 * ring buffer of recent requests. Served under /internal/ on the app's own loopback port.
 */
const metrics: FastifyPluginAsync<{ release: string }> = async (app, { release }) => {
  const register = new Registry();
  // Process memory and CPU, event-loop delay (p50/p99 from perf_hooks), heap, GC.
  collectDefaultMetrics({ register });
  // Prometheus's "info" convention: a constant 1 whose label carries the fact.
  new Gauge({
    name: 'app_info',
    help: 'The release this process runs (APP_RELEASE: the image tag it was built under); always 1',
    labelNames: ['release'] as const,
    registers: [register],
  }).set({ release }, 1);

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered by the app, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [register],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the request arriving in the app to its response being sent',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [register],
  });
  const queryDuration = new Histogram({
    name: 'db_query_duration_seconds',
    help: 'Time of each database query or prepared statement, by statement kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [register],
  });
  const core = (app.db as unknown as { pool: CorePool }).pool;
  new Gauge({
    name: 'db_pool_connections',
    help: 'Connections of the mysql2 pool: in_use (lent to a query) or idle',
    labelNames: ['state'] as const,
    registers: [register],
    collect() {
      const all = core._allConnections.length;
      const idle = core._freeConnections.length;
      this.set({ state: 'in_use' }, all - idle);
      this.set({ state: 'idle' }, idle);
    },
  });
  new Gauge({
    name: 'db_pool_waiting',
    help: 'Queries waiting for a free pool connection',
    registers: [register],
    collect() {
      this.set(core._connectionQueue.length);
    },
  });
  new Gauge({
    name: 'db_pool_limit',
    help: 'Most connections the pool opens (DB_POOL_SIZE)',
    registers: [register],
    collect() {
      this.set(core.config.connectionLimit);
    },
  });

  timeQueries(app.db, queryDuration);
  const recent = new RecentRequests(RECENT_REQUESTS);

  app.decorateRequest('dbTime', null as unknown as DbTime);
  // Callback style, so the rest of the request runs inside the AsyncLocalStorage context.
  app.addHook('onRequest', (request, _reply, done) => {
    const dbTime = { ms: 0, queries: 0 };
    request.dbTime = dbTime;
    requestDbTime.run(dbTime, done);
  });
  app.addHook('onSend', async (request, reply) => {
    const { ms, queries } = request.dbTime;
    reply.header(
      'server-timing',
      `app;dur=${reply.elapsedTime.toFixed(2)};desc="Fastify", db;dur=${ms.toFixed(2)};desc="${queries} quer${queries === 1 ? 'y' : 'ies'}"`,
    );
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = routeOf(request);
    // The monitor reads these every second: counting them would drown the real traffic.
    if (route.startsWith(INTERNAL_PREFIX) || request.routeOptions.config.untracked) return;
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    recent.add({
      id: request.id,
      method: request.method,
      route,
      status: reply.statusCode,
      at: new Date(Date.now() - reply.elapsedTime).toISOString(),
      appMs: Number(reply.elapsedTime.toFixed(3)),
      dbMs: Number(request.dbTime.ms.toFixed(3)),
      queries: request.dbTime.queries,
    });
  });

  app.get(
    `${INTERNAL_PREFIX}/metrics`,
    // The monitor scrapes it every second: not traffic worth a log line each time.
    { logLevel: 'warn', schema: { response: { 200: { type: 'string' } } } },
    async (_request, reply) => {
      reply.type(register.contentType);
      return register.metrics();
    },
  );

  const recentRequest = {
    type: 'object',
    required: ['id', 'method', 'route', 'status', 'at', 'appMs', 'dbMs', 'queries'],
    properties: {
      id: { type: 'string' },
      method: { type: 'string' },
      route: { type: 'string' },
      status: { type: 'integer' },
      at: { type: 'string' },
      appMs: { type: 'number' },
      dbMs: { type: 'number' },
      queries: { type: 'integer' },
    },
  } as const;
  app.get<{ Querystring: { limit: number } }>(
    `${INTERNAL_PREFIX}/requests`,
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        },
        response: { 200: { type: 'array', items: recentRequest }, ...errorResponses(400) },
      },
    },
    async (request) => recent.latest(request.query.limit),
  );
  app.get<{ Params: { id: string } }>(
    `${INTERNAL_PREFIX}/requests/:id`,
    {
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
        },
        response: { 200: recentRequest, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) =>
      recent.get(request.params.id) ??
      reply.code(404).send(errorBody(404, `request ${request.params.id} is not among the last ${RECENT_REQUESTS}`)),
  );
};

export const metricsPlugin = fp(metrics, { name: 'metrics', dependencies: ['db'] });
