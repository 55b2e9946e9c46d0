import { randomUUID } from 'node:crypto';
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import fastifyStatic from '@fastify/static';
import type { Config } from './config.js';
import { dbPlugin } from './db/pool.js';
import { registerErrorHandlers } from './errors.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { drainPlugin } from './http/drain.js';
import { metricsPlugin } from './metrics/plugin.js';
import { answerMethodNotAllowed, trackRouteMethods } from './http/method-not-allowed.js';
import { healthRoutes } from './health/routes.js';
import { OneLinePerRequest, createLogger } from './logging.js';
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

export interface BuildOptions {
  /** Fastify's own logger instead of the app's (tests pass false). */
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const appLogger = options.logger === undefined ? createLogger(config.LOG_LEVEL) : undefined;
  const app = Fastify({
    ...(appLogger ? { loggerInstance: appLogger.logger } : { logger: options.logger }),
    // nginx sets X-Request-Id for every request; the app logs it and echoes it back.
    requestIdHeader: 'x-request-id',
    logController: new OneLinePerRequest({ requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    // Only nginx (on loopback, or on the Swarm's overlay) is trusted to say who the client is.
    trustProxy: config.TRUST_PROXY,
    bodyLimit: config.BODY_LIMIT_BYTES,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    return503OnClosing: true,
    // The db plugin waits up to DB_STARTUP_TIMEOUT_MS for the database (in a Swarm nothing
    // orders the start of services); Fastify's own 10 s plugin limit must not cut it short.
    pluginTimeout: config.DB_STARTUP_TIMEOUT_MS + 10_000,
    // A factory rather than setValidatorCompiler(): plugins that add schemas rebuild
    // their compiler from the factory, and would otherwise fall back to the default Ajv.
    // (Fastify calls the built compiler with the route schema definition, as
    // setValidatorCompiler's do; the ajv-compiler typings declare a bare schema.)
    schemaController: { compilersFactory: { buildValidator: (() => compileValidator) as unknown as ValidatorFactory } },
  });
  registerBodyParsers(app);
  await app.register(drainPlugin);
  if (appLogger) app.addHook('onClose', async () => appLogger.close());
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
  if (config.METRICS_ENABLED) await app.register(metricsPlugin, { release: config.APP_RELEASE });
  await app.register(healthRoutes, { prefix: '/api/health' });
  // The same two at the root of the app's own port, the contract of every app behind this
  // stack: health checks, the deploy gate, and the monitor, which asks /ready every second
  // to tell whether the app is up.
  await app.register(healthRoutes, { probe: true });
  await app.register(postsRoutes, { prefix: '/api/posts' });

  // In containers nginx serves the static files; without it (npm run dev) the app does.
  if (config.STATIC_DIR) {
    await app.register(fastifyStatic, { root: config.STATIC_DIR, wildcard: false });
  }
  answerMethodNotAllowed(app, routeMethods);
  return app;
}
