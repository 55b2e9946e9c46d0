import http from 'node:http';

export interface LoadRequest {
  method?: string;
  path: string;
  body?: object;
}

export interface LoadOptions {
  port: number;
  /** Concurrent keep-alive connections, each sending one request after another. */
  connections: number;
  /** Stops after this long... */
  durationMs: number;
  /** ...or as soon as this settles, whichever comes first. */
  until?: Promise<unknown>;
  /** The n-th request of the run (shared counter across connections). */
  next: (n: number) => LoadRequest;
  /** Called with every completed request. */
  onResponse?: (response: LoadResponse) => void;
  host?: string;
  timeoutMs?: number;
}

export interface LoadResponse {
  request: LoadRequest;
  status: number;
  body: string;
  contentType: string;
  startedAt: number;
  latencyMs: number;
}

export interface LoadResult {
  requests: number;
  /** Responses per status code; connection failures count under "error". */
  byStatus: Record<string, number>;
  errors: number;
  non2xx: number;
  durationMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

function send(agent: http.Agent, options: LoadOptions, request: LoadRequest): Promise<LoadResponse> {
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: request.path,
        method: request.method ?? 'GET',
        agent,
        timeout: options.timeoutMs ?? 10_000,
        headers: {
          host: options.host ?? 'www.foobar.com',
          ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            request,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: String(res.headers['content-type'] ?? ''),
            startedAt,
            latencyMs: Date.now() - startedAt,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Bounded constant load on 127.0.0.1:port: `connections` loops of back-to-back requests
 * until `durationMs` has passed or `until` settles. Counts statuses and errors.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const deadline = started + options.durationMs;
  let stopped = false;
  void options.until?.finally(() => {
    stopped = true;
  });
  const byStatus: Record<string, number> = {};
  const latencies: number[] = [];
  let counter = 0;

  const loop = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!stopped && Date.now() < deadline) {
        const request = options.next(counter++);
        try {
          const response = await send(agent, options, request);
          byStatus[response.status] = (byStatus[response.status] ?? 0) + 1;
          latencies.push(response.latencyMs);
          options.onResponse?.(response);
        } catch {
          byStatus.error = (byStatus.error ?? 0) + 1;
          // A refused connection fails at once: don't spin.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));

  const sorted = latencies.sort((a, b) => a - b);
  const requests = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
  const non2xx = Object.entries(byStatus)
    .filter(([status]) => status !== 'error' && !status.startsWith('2'))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    requests,
    byStatus,
    errors: byStatus.error ?? 0,
    non2xx,
    durationMs: Date.now() - started,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
  };
}
