import { setTimeout as sleep } from 'node:timers/promises';
import fp from 'fastify-plugin';
import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import type { FastifyBaseLogger } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
  }
}

export interface DbOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  poolSize: number;
  /** How long to keep retrying at start while the database is still coming up. */
  startupTimeoutMs: number;
}

function connectionOptions(opts: DbOptions): PoolOptions {
  return {
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password,
    database: opts.database,
    charset: 'utf8mb4_unicode_ci',
    // Timestamps are written and read as UTC whatever the server's zone is.
    timezone: 'Z',
    connectTimeout: 5_000,
    // TCP keepalive lets the pool notice connections a restarted database dropped.
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
  };
}

function createPool(opts: DbOptions): Pool {
  return mysql.createPool({
    ...connectionOptions(opts),
    connectionLimit: opts.poolSize,
    maxIdle: opts.poolSize,
    idleTimeout: 60_000,
    queueLimit: 0,
  });
}

async function waitForDatabase(pool: Pool, timeoutMs: number, log: FastifyBaseLogger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('SELECT 1');
      if (attempt > 1) log.info({ attempt }, 'database is up');
      return;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (Date.now() >= deadline) {
        throw new Error(`database not reachable after ${attempt} attempts: ${reason}`, { cause: err });
      }
      log.warn({ attempt, reason }, 'database not ready yet, retrying');
      await sleep(Math.min(500 * attempt, 3_000));
    }
  }
}

/**
 * Decorates the instance with a mysql2 pool and waits for the database. The schema is the
 * database tier's job: the migrate service has applied it before the app starts.
 */
export const dbPlugin = fp<DbOptions>(
  async (app, opts) => {
    const pool = createPool(opts);
    app.decorate('db', pool);
    app.addHook('onClose', async () => {
      await pool.end();
    });
    await waitForDatabase(pool, opts.startupTimeoutMs, app.log);
  },
  { name: 'db' },
);
