import type { FastifyInstance } from 'fastify';

// fatal: invalid byte sequences throw instead of silently becoming U+FFFD, which would
// store something other than what the client sent.
const utf8 = new TextDecoder('utf-8', { fatal: true });

class InvalidBodyEncoding extends Error {
  readonly statusCode = 400;
  readonly code = 'WEBSTACK_INVALID_UTF8';
  constructor() {
    super('the request body is not valid UTF-8');
  }
}

/**
 * Only JSON bodies are accepted (anything else is 415): strict UTF-8, then Fastify's own
 * JSON parser, prototype-poisoning checks included.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidBodyEncoding(), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
