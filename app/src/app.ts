import { randomUUID } from 'node:crypto';
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import fastifyStatic from '@fastify/static';
import type { Config } from './config.js';
import { dbPlugin } from './db/pool.js';
import { registerErrorHandlers } from './errors.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { metricsPlugin } from './metrics/plugin.js';
import { answerMethodNotAllowed, trackRouteMethods } from './http/method-not-allowed.js';
import { healthRoutes } from './health/routes.js';
import { postsRoutes } from './posts/routes.js';

// Bodies are validated strictly: a number is not a string and an unknown field is an
// error. Query strings and path params are text on the wire, so those may be coerced.
const ajvOptions = { allErrors: true, removeAdditional: false, useDefaults: true, strict: true } as const;
const bodyAjv = new Ajv({ ...ajvOptions, coerceTypes: false });
const paramsAjv = new Ajv({ ...ajvOptions, coerceTypes: true });
// Text that utf8mb4 stores exactly: no lone UTF-16 surrogates (JSON can escape them).
bodyAjv.addFormat('unicode-text', { type: 'string', validate: (text: string) => text.isWellFormed() });
type ValidatorFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator'];
const compileValidator = ({ schema, httpPart }: FastifyRouteSchemaDef<AnySchema>): ValidateFunction =>
  (httpPart === 'body' ? bodyAjv : paramsAjv).compile(schema);

/** Largest accepted request body: a 2000-character post in 4-byte UTF-8 plus JSON, with room. */
export const BODY_LIMIT_BYTES = 16 * 1024;

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: config.LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    // nginx sets X-Request-Id for every request; the app logs it and echoes it back.
    requestIdHeader: 'x-request-id',
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    // Only nginx on loopback is trusted to say who the client is.
    trustProxy: '127.0.0.1',
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    return503OnClosing: true,
    // A factory rather than setValidatorCompiler(): plugins that add schemas rebuild
    // their compiler from the factory, and would otherwise fall back to the default Ajv.
    // (Fastify calls the built compiler with the route schema definition, as
    // setValidatorCompiler's do; the ajv-compiler typings declare a bare schema.)
    schemaController: { compilersFactory: { buildValidator: (() => compileValidator) as unknown as ValidatorFactory } },
  });
  registerBodyParsers(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerErrorHandlers(app);
  const routeMethods = trackRouteMethods(app);

  await app.register(dbPlugin, {
    host: config.DB_HOST,
    port: config.DB_PORT,
    user: config.DB_USER,
    password: config.DB_PASSWORD,
    database: config.DB_NAME,
    poolSize: config.DB_POOL_SIZE,
    startupTimeoutMs: config.DB_STARTUP_TIMEOUT_MS,
  });
  // After the pool (it times its queries), before the routes (they capture the pool).
  if (config.METRICS_ENABLED) await app.register(metricsPlugin);
  await app.register(healthRoutes, { prefix: '/api/health' });
  await app.register(postsRoutes, { prefix: '/api/posts' });

  // In containers nginx serves the static files; without it (npm run dev) the app does.
  if (config.STATIC_DIR) {
    await app.register(fastifyStatic, { root: config.STATIC_DIR, wildcard: false });
  }
  answerMethodNotAllowed(app, routeMethods);
  return app;
}
