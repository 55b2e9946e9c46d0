import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import mysql, { type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import type { FastifyBaseLogger } from 'fastify';

/** The app's migrations folder, from both src/db (tsx) and dist/db (compiled). */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const MIGRATION_FILE = /^(\d+)_[\w-]+\.sql$/;
// Two app processes (a deploy starts the new one beside the old) must not migrate at once.
const LOCK_NAME = 'webstack.migrations';
const LOCK_WAIT_S = 60;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  checksum CHAR(64) NOT NULL,
  applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => MIGRATION_FILE.test(name)).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const sql = await readFile(`${dir}/${name}`, 'utf8');
    const version = Number(MIGRATION_FILE.exec(name)?.[1]);
    if (migrations.some((m) => m.version === version)) throw new Error(`two migrations share version ${version}`);
    migrations.push({ version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in order, once each.
 * Refuses to run if an applied migration's file was edited afterwards.
 * Returns the names of the migrations it applied.
 */
export async function migrate(
  options: ConnectionOptions,
  log: FastifyBaseLogger,
  dir: string = MIGRATIONS_DIR,
): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const conn = await mysql.createConnection({ ...options, multipleStatements: true });
  try {
    const [[lock]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS taken', [LOCK_NAME, LOCK_WAIT_S]);
    if (lock?.taken !== 1) throw new Error(`could not take the migration lock within ${LOCK_WAIT_S} s`);
    await conn.query(CREATE_TABLE);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [Number(row.version), String(row.checksum)]));
    const done: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} was edited after it was applied; add a new migration instead`);
        }
        continue;
      }
      log.info({ migration: migration.name }, 'applying migration');
      await conn.query(migration.sql);
      await conn.execute('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      done.push(migration.name);
    }
    return done;
  } finally {
    await conn.end();
  }
}
