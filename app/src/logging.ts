import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino } from 'pino';

/**
 * How long an info line may wait in the app's buffer before it is written: nginx's access
 * log uses the same bound (`flush=1s`), so a crash loses at most this much of either.
 */
export const LOG_FLUSH_INTERVAL_MS = 1000;

// Docker's log pipeline (containerd-shim, then dockerd's json-file driver) costs CPU per
// write, and one write per line made it the stack's largest cost under load. Lines are
// gathered into writes of this size at least (or whatever the interval has gathered).
const MIN_WRITE_BYTES = 4096;

/**
 * The app's pino logger: info and below buffered on stdout and flushed at least every
 * LOG_FLUSH_INTERVAL_MS; warnings and errors written synchronously to stderr, so they are
 * never delayed and a crash right after them cannot lose them. `close()` writes out the buffer.
 */
export function createLogger(level: string): { logger: FastifyBaseLogger; close: () => void } {
  const buffered = pino.destination({ dest: 1, sync: false, minLength: MIN_WRITE_BYTES });
  const immediate = pino.destination({ dest: 2, sync: true });
  const flusher = setInterval(() => buffered.flush(), LOG_FLUSH_INTERVAL_MS);
  // The timer alone must not keep the process alive; pino writes the buffer out on exit.
  flusher.unref();
  const logger = pino(
    { level, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    pino.multistream(
      [
        { level: 'trace', stream: buffered },
        { level: 'warn', stream: immediate },
      ],
      // Each line goes to the one stream with the highest level it reaches.
      { dedupe: true },
    ),
  );
  return {
    logger,
    close: () => {
      clearInterval(flusher);
      buffered.flush();
    },
  };
}

/**
 * One line per request, when it is answered, instead of Fastify's two ("incoming request"
 * and "request completed"): each line costs Docker's log pipeline about as much CPU as
 * nginx spends proxying the request. The line carries nginx's X-Request-Id (`requestId`),
 * method, URL, status and duration; Fastify's other lines (errors) stay as they are.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTime: reply.elapsedTime,
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
