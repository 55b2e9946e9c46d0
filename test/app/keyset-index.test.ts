import type { FastifyInstance } from 'fastify';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEWEST, SELECT_PAGE } from '../../app/src/posts/repository.js';
import { seedPosts } from '../../scripts/tool/bench/stack.js';
import { docker } from '../../scripts/tool/core/docker.js';
import { startAppWithDatabase, type TestApp } from '../support/app.js';

const SEEDED = 5_000;
const PAGE = 21; // what GET /api/posts asks for: 20 rows and one to know if more exist

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

/** Rows the storage engine handed to the server for one statement (session counters). */
async function rowsReadBy(sql: string, params: (string | number)[]): Promise<number> {
  await conn.query('FLUSH STATUS');
  await conn.execute(sql, params);
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
    for (const before of [NEWEST, Math.floor(SEEDED / 2)]) {
      const [plan] = await conn.execute<RowDataPacket[]>(`EXPLAIN ${SELECT_PAGE}`, [before, String(PAGE)]);
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatchObject({ table: 'posts', key: 'PRIMARY', type: 'range' });
      expect(String(plan[0]?.Extra)).not.toMatch(/filesort|temporary/i);
    }
  });

  it('a page reads about as many rows as it returns, wherever it starts', async () => {
    for (const before of [NEWEST, Math.floor(SEEDED / 2), 100]) {
      const read = await rowsReadBy(SELECT_PAGE, [before, String(PAGE)]);
      expect(read).toBeGreaterThanOrEqual(PAGE - 1);
      expect(read).toBeLessThanOrEqual(PAGE + 2);
    }
  });
});
