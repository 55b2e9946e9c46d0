import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * From now on every response closes its connection. Called when a shutdown begins:
     * a proxy that keeps connections to this app alive (nginx's upstream keepalive) then
     * loses each of them with an answer, never by the app closing one under a request it
     * has just sent (which nginx can only answer with 502 for a POST), and by the time
     * the app stops listening no kept-alive connection would carry a request into
     * Fastify's "closing" 503.
     */
    drain(): void;
  }
}

export const drainPlugin = fp(
  async (app) => {
    let draining = false;
    app.decorate('drain', () => {
      draining = true;
    });
    app.addHook('onSend', async (_request, reply) => {
      if (draining) reply.header('connection', 'close');
    });
  },
  { name: 'drain' },
);
