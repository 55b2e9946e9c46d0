// The HTTP client lives with the operations scripts, which use it too.
export {
  request,
  waitUntil,
  portOf,
  type Endpoint,
  type HttpRequest,
  type HttpResponse,
} from '../../scripts/ops/http.js';

/** A clear JSON error: a JSON body whose statusCode matches the response, with error and message. */
export function isCleanJsonError(status: number, body: string, contentType: unknown): boolean {
  if (!String(contentType).startsWith('application/json')) return false;
  try {
    const problem = JSON.parse(body) as { statusCode?: unknown; error?: unknown; message?: unknown };
    return problem.statusCode === status && typeof problem.error === 'string' && typeof problem.message === 'string';
  } catch {
    return false;
  }
}
