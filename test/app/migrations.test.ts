import { appendFile, cp, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql, { type ConnectionOptions } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../app/src/db/migrate.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { startDatabase, type TestDatabase } from '../support/database.js';

const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  fatal() {},
  trace() {},
  child() {
    return silent;
  },
  level: 'silent',
} as never;

const MIGRATIONS_DIR = `${REPO_ROOT}app/migrations`;
/** The migration files a directory holds, in the order they must apply. */
const migrationFiles = async (dir = MIGRATIONS_DIR) =>
  (await readdir(dir)).filter((name) => /^\d+_[\w-]+\.sql$/.test(name)).sort();

let db: TestDatabase;
let options: ConnectionOptions;

beforeAll(async () => {
  db = await startDatabase();
  options = {
    host: db.env.DB_HOST,
    port: Number(db.env.DB_PORT),
    user: db.env.DB_USER,
    password: db.env.DB_PASSWORD,
    database: db.env.DB_NAME,
    charset: 'utf8mb4_unicode_ci',
  };
});

afterAll(async () => {
  await db?.container.stop();
});

describe('migrations', () => {
  it('apply every file once, record them, and do nothing when run again', async () => {
    const files = await migrationFiles();
    expect(files.length).toBeGreaterThan(0);
    const first = await migrate(options, silent);
    expect(first).toEqual(files);
    expect(await migrate(options, silent)).toEqual([]);

    const conn = await mysql.createConnection(options);
    const [rows] = await conn.query('SELECT version, name FROM schema_migrations ORDER BY version');
    expect((rows as Array<{ name: string }>).map((r) => r.name)).toEqual(files);
    const [tables] = await conn.query(
      "SELECT table_collation AS collation FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'posts'",
    );
    expect((tables as Array<{ collation: string }>)[0]?.collation).toMatch(/^utf8mb4_/);
    await conn.end();
  });

  it('run concurrently from two processes without applying anything twice', async () => {
    const results = await Promise.all([migrate(options, silent), migrate(options, silent)]);
    expect(results.flat()).toEqual([]);
  });

  it('refuse to run when an applied migration file was edited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const [firstFile] = await migrationFiles(dir);
    await appendFile(join(dir, firstFile!), '\n-- edited\n');
    await expect(migrate(options, silent, dir)).rejects.toThrow(/was edited after it was applied/);
  });
});
