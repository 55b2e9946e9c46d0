import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool } from 'mysql2/promise';
import type { Histogram } from 'prom-client';

/** Database time spent on behalf of one request, summed over its queries. */
export interface DbTime {
  ms: number;
  queries: number;
}

export const requestDbTime = new AsyncLocalStorage<DbTime>();

/** "select", "insert", … from the statement text: a label with a handful of values. */
function statementKind(sql: unknown): string {
  const text = typeof sql === 'string' ? sql : (sql as { sql?: string } | undefined)?.sql;
  const verb = /^\s*(\w+)/.exec(text ?? '')?.[1]?.toLowerCase();
  return verb && ['select', 'insert', 'update', 'delete'].includes(verb) ? verb : 'other';
}

/**
 * Times every query and execute on the pool itself (not a wrapper), so code that captured
 * the pool before this ran is timed too. Each query's time goes to the histogram and to
 * the current request's DbTime, which Server-Timing reports.
 */
export function timeQueries(pool: Pool, histogram: Histogram<'kind' | 'outcome'>): void {
  for (const method of ['query', 'execute'] as const) {
    const original = pool[method].bind(pool) as (...args: unknown[]) => Promise<unknown>;
    const timed = async (...args: unknown[]) => {
      const started = process.hrtime.bigint();
      let outcome = 'ok';
      try {
        return await original(...args);
      } catch (err) {
        outcome = 'error';
        throw err;
      } finally {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        histogram.observe({ kind: statementKind(args[0]), outcome }, ms / 1000);
        const current = requestDbTime.getStore();
        if (current) {
          current.ms += ms;
          current.queries += 1;
        }
      }
    };
    Object.assign(pool, { [method]: timed });
  }
}
