import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import { parsePrometheusText, type Sample } from './prometheus-text.js';

const TIMEOUT_MS = 800;

/** nginx's stub_status counters. */
export interface StubStatus {
  active: number;
  accepted: number;
  handled: number;
  requests: number;
  reading: number;
  writing: number;
  waiting: number;
}

export function parseStubStatus(text: string): StubStatus {
  const numbers = text.match(/\d+/g)?.map(Number) ?? [];
  if (numbers.length !== 7) throw new Error(`unexpected stub_status answer: ${text.slice(0, 200)}`);
  const [active, accepted, handled, requests, reading, writing, waiting] = numbers as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { active, accepted, handled, requests, reading, writing, waiting };
}

async function get(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

export const readStubStatus = async (url: string) => parseStubStatus(await get(url));

/**
 * Where the app keeps what it may offer beyond its readiness path: Prometheus metrics, and
 * its recent requests by id. Both optional: an app without them is still up or down.
 */
const APP_METRICS_PATH = '/internal/metrics';
const APP_REQUESTS_PATH = '/internal/requests/';

/** The first of the app's addresses whose readiness path answers 2xx (5001 serves during a deploy). */
export async function readyApp(urls: string[], readyPath: string): Promise<string> {
  let lastError: unknown;
  for (const url of urls) {
    try {
      await get(`${url}${readyPath}`);
      return url;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export interface AppMetrics {
  text: string;
  samples: Sample[];
}

/** The app's own metrics, or undefined when it serves none (any answer but Prometheus text). */
export async function readAppMetrics(url: string): Promise<AppMetrics | undefined> {
  const response = await fetch(`${url}${APP_METRICS_PATH}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  // An app that renders its own pages may answer any path with HTML.
  if (!response.ok || !/^text\/plain|^application\/openmetrics-text/.test(response.headers.get('content-type') ?? '')) {
    await response.body?.cancel();
    return undefined;
  }
  const text = await response.text();
  return { text, samples: parsePrometheusText(text) };
}

export const recentAppRequest = async (url: string, id: string): Promise<unknown> => {
  const response = await fetch(`${url}${APP_REQUESTS_PATH}${encodeURIComponent(id)}`, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (response.ok && /^application\/json/.test(response.headers.get('content-type') ?? '')) return response.json();
  await response.body?.cancel();
  return undefined;
};

/** The server status variables the status page and /metrics report. */
export const DB_STATUS = [
  'Uptime',
  'Threads_connected',
  'Threads_running',
  'Max_used_connections',
  'Questions',
  'Slow_queries',
  'Innodb_buffer_pool_read_requests',
  'Innodb_buffer_pool_reads',
  'Innodb_row_lock_waits',
  'Innodb_row_lock_time',
] as const;
export type DbStatus = Record<(typeof DB_STATUS)[number], number> & { dataBytes: number };

/**
 * One connection as the app's database user, which needs no privilege for global status
 * and sees only its own schema's sizes: the monitor can read figures, nothing else.
 */
export function dbStatusReader(options: {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}) {
  const pool: Pool = mysql.createPool({
    ...options,
    connectionLimit: 1,
    maxIdle: 1,
    connectTimeout: TIMEOUT_MS * 2,
    enableKeepAlive: true,
  });
  return {
    async read(): Promise<DbStatus> {
      const [rows] = await pool.query<RowDataPacket[]>({
        sql: `SHOW GLOBAL STATUS WHERE Variable_name IN (${DB_STATUS.map(() => '?').join(', ')})`,
        values: [...DB_STATUS],
        timeout: TIMEOUT_MS,
      });
      const status = Object.fromEntries(rows.map((r) => [r.Variable_name as string, Number(r.Value)]));
      const [size] = await pool.query<RowDataPacket[]>({
        sql: 'SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes FROM information_schema.tables WHERE table_schema = DATABASE()',
        timeout: TIMEOUT_MS,
      });
      return { ...(status as Record<(typeof DB_STATUS)[number], number>), dataBytes: Number(size[0]?.bytes ?? 0) };
    },
    close: () => pool.end(),
  };
}
