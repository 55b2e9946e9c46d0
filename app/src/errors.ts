import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';

const ErrorDetail = Type.Object({ field: Type.String(), rule: Type.String(), message: Type.String() });
type ErrorDetail = Static<typeof ErrorDetail>;

/** The one shape of every error the API returns. */
const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  requestId: Type.Optional(Type.String()),
  details: Type.Optional(Type.Array(ErrorDetail)),
});
type ErrorResponse = Static<typeof ErrorResponse>;

/** Response schemas for a route's error codes: `{ 400: ErrorResponse, ... }`. */
export const errorResponses = <const Codes extends number[]>(...codes: Codes) =>
  Object.fromEntries(codes.map((code) => [code, ErrorResponse])) as Record<Codes[number], typeof ErrorResponse>;

export function errorBody(statusCode: number, message: string, details?: ErrorDetail[]): ErrorResponse {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(details && { details }) };
}

type Validation = NonNullable<FastifyError['validation']>[number];

// "body.author", "querystring.limit": where the bad value is, in the client's terms.
function fieldOf(context: string | undefined, issue: Validation): string {
  const params = issue.params as Record<string, unknown>;
  const path = issue.instancePath
    .split('/')
    .filter(Boolean)
    .concat(typeof params.missingProperty === 'string' ? [params.missingProperty] : [])
    .concat(typeof params.additionalProperty === 'string' ? [params.additionalProperty] : []);
  return [context ?? 'request', ...path].join('.');
}

function validationDetails(error: FastifyError): ErrorDetail[] {
  return (error.validation ?? []).map((issue) => {
    const field = fieldOf(error.validationContext, issue);
    const message =
      issue.keyword === 'additionalProperties'
        ? 'is not an accepted field'
        : issue.keyword === 'required'
          ? 'is required'
          : (issue.message ?? 'is invalid');
    return { field, rule: issue.keyword, message };
  });
}

// Errors that mean "the database is not there right now", as opposed to a bug.
const DATABASE_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  // With the database on another server (a Swarm): its node gone, or its name not in DNS
  // while no database task runs.
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DATABASE_UNAVAILABLE.has(code);
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) {
    const details = validationDetails(error);
    const message = details.map((d) => `${d.field} ${d.message}`).join('; ');
    return reply.code(400).send(errorBody(400, message, details));
  }
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'database unavailable');
    return reply
      .code(503)
      .header('retry-after', '5')
      .send(errorBody(503, 'the database is unavailable; try again shortly'));
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply.code(415).send(errorBody(415, 'Content-Type must be application/json'));
  }
  const status = error.statusCode ?? 500;
  if (status >= 500) {
    // Internals stay in the log; the client gets the request id to quote.
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(status)
      .send({ ...errorBody(status, 'internal error; quote the request id when reporting it'), requestId: request.id });
  }
  return reply.code(status).send(errorBody(status, error.message));
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    reply.code(404).send(errorBody(404, `no route for ${request.method} ${path}`));
  });
}
