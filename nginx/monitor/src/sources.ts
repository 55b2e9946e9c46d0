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

/** The app's samples from the first of its addresses that answers (5001 serves during a deploy). */
export async function readAppMetrics(urls: string[]): Promise<{ url: string; text: string; samples: Sample[] }> {
  let lastError: unknown;
  for (const url of urls) {
    try {
      const text = await get(`${url}/internal/metrics`);
      return { url, text, samples: parsePrometheusText(text) };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export const recentAppRequest = async (url: string, id: string): Promise<unknown> => {
  const response = await fetch(`${url}/internal/requests/${encodeURIComponent(id)}`, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return response.ok ? response.json() : undefined;
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
