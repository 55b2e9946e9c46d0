import type { FastifyInstance } from 'fastify';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postsRepository } from '../../app/src/posts/repository.js';
import type { PageQuery } from '../../app/src/posts/schemas.js';
import { seedPosts } from '../../scripts/tool/bench/stack.js';
import { docker } from '../../scripts/tool/core/docker.js';
import { startAppWithDatabase, type TestApp } from '../support/app.js';

const SEEDED = 5_000;
const LIMIT = 20; // GET /api/posts's default
const PAGE = LIMIT + 1; // the rows the repository asks for: one more tells whether more exist

let testApp: TestApp;
let app: FastifyInstance;
// One connection, so the session's status counters belong to our statements alone.
let conn: PoolConnection;

beforeAll(async () => {
  testApp = await startAppWithDatabase();
  app = testApp.app;
  conn = await app.db.getConnection();
});

afterAll(async () => {
  conn?.release();
  await testApp?.stop();
});

/** The repository's real page read on our one connection, and the statement it sent. */
async function readPage(query: PageQuery) {
  const execute = vi.spyOn(conn, 'execute');
  try {
    const page = await postsRepository(conn).page(query);
    expect(execute).toHaveBeenCalledTimes(1);
    const [sql, params] = execute.mock.calls[0] as unknown as [string, (string | number)[]];
    return { page, sql, params };
  } finally {
    execute.mockRestore();
  }
}

/** Rows the storage engine handed to the server for one page read (session counters). */
async function rowsReadBy(query: PageQuery): Promise<number> {
  await conn.query('FLUSH STATUS');
  const { page } = await readPage(query);
  expect(page.posts).toHaveLength(LIMIT);
  const [status] = await conn.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Handler_read%'");
  return status.filter((r) => r.Variable_name !== 'Handler_read_key').reduce((sum, r) => sum + Number(r.Value), 0);
}

describe('keyset pagination on the primary key (the API read route)', () => {
  it('the bench seeding tops the table up once and is a no-op after', async () => {
    expect(await seedPosts(docker.getContainer(testApp.db.container.getId()), SEEDED)).toEqual({
      before: 0,
      inserted: SEEDED,
    });
    expect(await seedPosts(docker.getContainer(testApp.db.container.getId()), SEEDED)).toEqual({
      before: SEEDED,
      inserted: 0,
    });
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT author) AS authors FROM posts',
    );
    expect(rows[0]).toMatchObject({ n: SEEDED, authors: SEEDED });
  });

  it('EXPLAIN shows the page query walks the PRIMARY index, without a sort', async () => {
    for (const query of [{ limit: LIMIT }, { before: Math.floor(SEEDED / 2), limit: LIMIT }]) {
      const { sql, params } = await readPage(query);
      expect(params.map(Number)).toContain(PAGE);
      const [plan] = await conn.execute<RowDataPacket[]>(`EXPLAIN ${sql}`, params);
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatchObject({ table: 'posts', key: 'PRIMARY', type: 'range' });
      expect(String(plan[0]?.Extra)).not.toMatch(/filesort|temporary/i);
    }
  });

  it('a page reads about as many rows as it returns, wherever it starts', async () => {
    for (const before of [undefined, Math.floor(SEEDED / 2), 100]) {
      const read = await rowsReadBy({ before, limit: LIMIT });
      expect(read).toBeGreaterThanOrEqual(PAGE - 1);
      expect(read).toBeLessThanOrEqual(PAGE + 2);
    }
  });
});
