import { Agent } from 'node:http';
import { Agent as TlsAgent } from 'node:https';
import { sleep } from './wait.js';
import { neverConnected, request, type Endpoint, type HttpRequest, type HttpResponse } from './http.js';

/** One request of a load mix: what to send, and how often relative to the others. */
export interface TrafficRequest {
  weight: number;
  path: string;
  options?: HttpRequest | (() => HttpRequest);
}

export interface TrafficOptions {
  /** nginx's published port on 127.0.0.1 (with its CA for HTTPS): load only ever goes there. */
  port: Endpoint;
  /**
   * The same site's other front doors (a cluster's other edge nodes, all in its DNS): the
   * requests take turns over all of them, and one that could not connect goes on to the
   * next, as a browser tries a name's next address. A request once sent is never retried.
   */
  alsoAt?: Endpoint[];
  /** Concurrent connections, each sending its next request when the last one answered. */
  connections: number;
  /** Stop after this long, or when `until` settles (whichever comes first). */
  durationMs?: number;
  until?: Promise<unknown>;
  /** Hard upper bound whatever happens, so a hung operation never means endless load. */
  maxDurationMs?: number;
  mix?: TrafficRequest[];
  /** Called with every answer, e.g. to collect acknowledged writes. */
  onResponse?(request: TrafficRequest, response: HttpResponse): void;
  timeoutMs?: number;
  /** Reuse each connection (HTTP keep-alive, as browsers do) instead of one per request. */
  keepAlive?: boolean;
}

/** One request's outcome; status 0 means no HTTP answer (see error). */
export interface TrafficSample {
  atMs: number;
  status: number;
  latencyMs: number;
  method: string;
  path: string;
  error?: string;
  /** For a failed answer only: nginx's X-Request-Id and the start of the body, to say who answered. */
  requestId?: string;
  body?: string;
}

export interface TrafficResult {
  /** Wall-clock time (ms since the epoch) of atMs 0, to find a sample in logs. */
  startedAt: number;
  durationMs: number;
  total: number;
  byStatus: Record<string, number>;
  errors: Record<string, number>;
  /** Answers that were not 2xx, plus requests without an answer. */
  failed: number;
  /** Requests that went on to another front door (alsoAt) after one could not connect. */
  movedOn?: number;
  latencyMs: { p50: number; p99: number; max: number };
  samples: TrafficSample[];
}

export const readMix: TrafficRequest[] = [
  { weight: 3, path: '/api/posts?limit=5' },
  { weight: 1, path: '/api/health/ready' },
];

let writeCounter = 0;
/** Reads and writes: one POST in four, each with a body that says who wrote it. */
export const readWriteMix: TrafficRequest[] = [
  ...readMix,
  {
    weight: 1,
    path: '/api/posts',
    options: () => ({ method: 'POST', body: { author: 'load', body: `load write ${process.pid}-${++writeCounter}` } }),
  },
];

const failed = (sample: Pick<TrafficSample, 'status'>) => sample.status < 200 || sample.status > 299;

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

function picker(mix: TrafficRequest[]): () => TrafficRequest {
  const total = mix.reduce((sum, entry) => sum + entry.weight, 0);
  let turn = 0;
  // Deterministic round-robin by weight: the same mix every run.
  return () => {
    let slot = turn++ % total;
    for (const entry of mix) {
      if (slot < entry.weight) return entry;
      slot -= entry.weight;
    }
    return mix[0]!;
  };
}

export const summarize = (samples: TrafficSample[]): Omit<TrafficResult, 'startedAt' | 'durationMs' | 'samples'> => {
  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const sample of samples) {
    byStatus[sample.status] = (byStatus[sample.status] ?? 0) + 1;
    if (sample.error) errors[sample.error] = (errors[sample.error] ?? 0) + 1;
  }
  const latencies = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  return {
    total: samples.length,
    byStatus,
    errors,
    failed: samples.filter(failed).length,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
  };
};

/**
 * Bounded constant load through the front door: `connections` loops, each with a new
 * TCP connection per request (as independent users would) or, with `keepAlive`, each
 * reusing its connection (as one browser would), until the duration is over
 * or `until` settles. Counts every status and every error; never throws for them.
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const {
    port,
    alsoAt = [],
    connections,
    durationMs,
    until,
    maxDurationMs = 300_000,
    mix = readMix,
    onResponse,
    timeoutMs = 10_000,
    keepAlive = false,
  } = options;
  const agent = !keepAlive
    ? undefined
    : typeof port === 'number'
      ? new Agent({ keepAlive: true, maxSockets: connections })
      : new TlsAgent({ keepAlive: true, maxSockets: connections, ca: port.ca });
  if (durationMs === undefined && until === undefined) throw new Error('runTraffic needs durationMs or until');
  const started = performance.now();
  const startedAt = Date.now();
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  const timer = setTimeout(stop, Math.min(durationMs ?? maxDurationMs, maxDurationMs));
  until?.then(stop, stop);
  const next = picker(mix);
  const samples: TrafficSample[] = [];
  const doors = [port, ...alsoAt];
  let turn = 0;
  let movedOn = 0;
  /** The request at the next door in turn, then at each other one while none could connect. */
  const send = async (path: string, options: HttpRequest) => {
    const first = turn++;
    for (let tried = 0; ; tried++) {
      try {
        return await request(doors[(first + tried) % doors.length]!, path, options);
      } catch (err) {
        if (tried + 1 >= doors.length || !neverConnected(err)) throw err;
        movedOn++;
      }
    }
  };

  const loop = async () => {
    while (!stopping) {
      const entry = next();
      const options = typeof entry.options === 'function' ? entry.options() : entry.options;
      const method = options?.method ?? 'GET';
      const sent = performance.now();
      try {
        const response = await send(entry.path, { ...options, timeoutMs, agent });
        const sample: TrafficSample = {
          atMs: sent - started,
          status: response.status,
          latencyMs: performance.now() - sent,
          method,
          path: entry.path,
        };
        if (failed(sample)) {
          const requestId = response.headers['x-request-id'];
          if (typeof requestId === 'string') sample.requestId = requestId;
          sample.body = response.body.slice(0, 300);
        }
        samples.push(sample);
        onResponse?.(entry, response);
      } catch (err) {
        const error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        samples.push({
          atMs: sent - started,
          status: 0,
          latencyMs: performance.now() - sent,
          method,
          path: entry.path,
          error,
        });
        // A refused connection answers at once; do not spin on it.
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  clearTimeout(timer);
  agent?.destroy();
  samples.sort((a, b) => a.atMs - b.atMs);
  return {
    startedAt,
    durationMs: performance.now() - started,
    ...summarize(samples),
    ...(alsoAt.length > 0 ? { movedOn } : {}),
    samples,
  };
}

/** From the first failed request to the end of the last one: the outage users saw, or null. */
export function outageMs(samples: TrafficSample[]): number | null {
  const failures = samples.filter(failed);
  if (failures.length === 0) return null;
  const last = failures.at(-1)!;
  return last.atMs + last.latencyMs - failures[0]!.atMs;
}

/** The failed requests, one line each: when (UTC), what, the answer and nginx's request id. */
export function describeFailures(result: Pick<TrafficResult, 'startedAt' | 'samples'>): string[] {
  return result.samples.filter(failed).map((sample) => {
    const at = new Date(result.startedAt + sample.atMs).toISOString().slice(11, 23);
    const answer = sample.status === 0 ? (sample.error ?? 'no answer') : String(sample.status);
    const id = sample.requestId ? ` X-Request-Id ${sample.requestId}` : '';
    const body = sample.body ? ` body ${sample.body.trim()}` : '';
    return `${at} +${(sample.atMs / 1000).toFixed(2)} s ${sample.method} ${sample.path} -> ${answer} after ${Math.round(sample.latencyMs)} ms${id}${body}`;
  });
}

/** "200×1520 502×3 ECONNREFUSED×2" */
export function formatCounts(result: Pick<TrafficResult, 'byStatus' | 'errors'>): string {
  const statuses = Object.entries(result.byStatus)
    .filter(([status]) => status !== '0')
    .map(([status, n]) => `${status}×${n}`);
  const errors = Object.entries(result.errors).map(([error, n]) => `${error}×${n}`);
  return [...statuses, ...errors].join(' ') || 'no requests';
}
