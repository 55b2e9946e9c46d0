import type { FastifyInstance, HTTPMethods } from 'fastify';
import { errorBody, errorResponses } from '../errors.js';

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

interface PathMethods {
  /** The URLs Fastify registered for this path (with and without a trailing slash). */
  urls: Set<string>;
  methods: Set<string>;
}

/**
 * Records which methods each path answers, as routes are added. Call before registering
 * the routes; pass the result to answerMethodNotAllowed() after them.
 */
export function trackRouteMethods(app: FastifyInstance): Map<string, PathMethods> {
  const paths = new Map<string, PathMethods>();
  app.addHook('onRoute', (route) => {
    // Prefixed routes answer with and without a trailing slash, but the hook does not
    // always fire for both: one entry per path, whatever the slash.
    const path = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url;
    const entry = paths.get(path) ?? { urls: new Set<string>(), methods: new Set<string>() };
    entry.urls.add(route.url);
    for (const method of [route.method].flat()) entry.methods.add(method);
    // Fastify answers HEAD wherever it answers GET.
    if (entry.methods.has('GET')) entry.methods.add('HEAD');
    paths.set(path, entry);
  });
  return paths;
}

/** A known path asked with another method: 405 with Allow, not a misleading 404. */
export function answerMethodNotAllowed(app: FastifyInstance, paths: Map<string, PathMethods>): void {
  for (const { urls, methods } of [...paths.values()]) {
    const others = METHODS.filter((method) => !methods.has(method));
    if (others.length === 0) continue;
    const allow = METHODS.filter((method) => methods.has(method)).join(', ');
    for (const url of urls) {
      app.route({
        method: others,
        url,
        schema: { response: errorResponses(405) },
        handler: async (request, reply) =>
          reply
            .code(405)
            .header('allow', allow)
            .send(errorBody(405, `${request.method} is not allowed here; use ${allow}`)),
      });
    }
  }
}
