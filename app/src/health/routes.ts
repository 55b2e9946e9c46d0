import type { FastifyPluginAsync } from 'fastify';

const status = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    reason: { type: 'string' },
  },
} as const;

const READY_QUERY_TIMEOUT_MS = 2_000;

export const healthRoutes: FastifyPluginAsync = async (app) => {
  // Live: the process answers. Says nothing about the database on purpose, so a
  // database outage never gets a healthy app restarted.
  app.get('/live', { schema: { response: { 200: status } } }, async () => ({ status: 'ok' }));

  // Ready: this app can serve requests that need the database.
  app.get('/ready', { schema: { response: { 200: status, 503: status } } }, async (request, reply) => {
    try {
      await app.db.query({ sql: 'SELECT 1', timeout: READY_QUERY_TIMEOUT_MS });
      return { status: 'ok' };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      request.log.warn({ code }, 'not ready: database check failed');
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ status: 'unavailable', reason: `database unreachable (${code})` });
    }
  });
};
