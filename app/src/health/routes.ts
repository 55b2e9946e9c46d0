import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Status = Type.Object({
  status: Type.Enum(['ok', 'unavailable']),
  reason: Type.Optional(Type.String()),
});

const READY_QUERY_TIMEOUT_MS = 2_000;

export interface HealthOptions {
  /**
   * Asked by a machine every second or so (the stack's monitor): then no log line for each
   * answer, and not counted as traffic in the app's metrics, which it would drown.
   */
  probe?: boolean;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { probe = false }) => {
  const asked = probe ? { logLevel: 'warn' as const, config: { untracked: true } } : {};

  // Live: the process answers. Says nothing about the database on purpose, so a
  // database outage never gets a healthy app restarted.
  app.get('/live', { ...asked, schema: { response: { 200: Status } } }, async () => ({ status: 'ok' as const }));

  // Ready: this app can serve requests that need the database.
  app.get('/ready', { ...asked, schema: { response: { 200: Status, 503: Status } } }, async (request, reply) => {
    try {
      await app.db.query({ sql: 'SELECT 1', timeout: READY_QUERY_TIMEOUT_MS });
      return { status: 'ok' as const };
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
