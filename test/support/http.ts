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

/** The Authorization header of the /status pages' one user. */
export const statusAuthorization = (password: string | undefined) =>
  `Basic ${Buffer.from(`status:${password ?? ''}`).toString('base64')}`;
