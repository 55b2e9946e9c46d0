import { chmod, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, MIGRATION_FILE, migrate } from '../../db/migrate/src/migrations.js';
import { composeService } from '../../scripts/tool/core/compose.js';
import { docker, logText } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { APP_MIGRATIONS, connectionOf, startDatabase, type TestDatabase } from '../support/database.js';
import { TEST_LABEL } from '../support/labels.js';

const silent = pino({ level: 'silent' });
let db: TestDatabase;
const folders: string[] = [];

/** The sample's migrations plus `extra` files, in a folder of their own (readable by the image's user). */
async function folder(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsi-migrations-'));
  folders.push(dir);
  await cp(APP_MIGRATIONS, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) await writeFile(join(dir, name), sql);
  await chmod(dir, 0o755);
  return dir;
}

const run = (dir = APP_MIGRATIONS, lockWaitSeconds = 60) =>
  migrate({ connection: connectionOf(db), dir, lockWaitSeconds, log: silent });

async function sql<T>(statement: string): Promise<T[]> {
  const conn = await mysql.createConnection(connectionOf(db));
  try {
    return (await conn.query(statement))[0] as T[];
  } finally {
    await conn.end();
  }
}

const tables = async () =>
  (
    await sql<{ name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
    )
  )
    .map((t) => t.name)
    .sort();

/** The migrate image once, on the host's network, against the test database: its exit code and JSON log lines. */
/** The migrate image, run as docker-compose.yml's migrate service runs it (command and user). */
async function runImage(dir: string, env: Record<string, string> = {}) {
  const { command, user } = composeService('migrate');
  const container = await docker.createContainer({
    Image: imagesOf(process.env).migrate,
    Cmd: command,
    User: user,
    Labels: TEST_LABEL,
    Env: Object.entries({ ...db.env, ...env }).map(([k, v]) => `${k}=${v}`),
    HostConfig: {
      NetworkMode: 'host',
      Binds: [`${dir}:/migrations:ro`],
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
    },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const lines = (await logText(container))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; service: string });
    return { exitCode: StatusCode, lines };
  } finally {
    await container.remove({ force: true });
  }
}

beforeAll(async () => {
  db = await startDatabase();
});

// Each test brings an empty database: the runner's effects are what it checks.
beforeEach(async () => {
  for (const name of await tables()) await sql(`DROP TABLE \`${name}\``);
});

afterAll(async () => {
  await db?.container.stop();
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

describe('the migration runner (db/migrate)', () => {
  it('applies every file once, in order, records it, and does nothing when run again', async () => {
    const files = (await readdir(APP_MIGRATIONS)).filter((name) => MIGRATION_FILE.test(name)).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(await run()).toEqual(files);
    expect(await run()).toEqual([]);
    const rows = await sql<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.name)).toEqual(files);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    const [posts] = await sql<{ collation: string }>(
      "SELECT table_collation AS collation FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'posts'",
    );
    expect(posts?.collation).toMatch(/^utf8mb4_/);
  });

  it('applies a folder once when two runners start together', async () => {
    const results = await Promise.all([run(), run()]);
    expect(results.flat().sort()).toEqual((await readdir(APP_MIGRATIONS)).filter((n) => MIGRATION_FILE.test(n)).sort());
  });

  it('waits for the lock another runner holds, and gives up naming it', async () => {
    const holder = await mysql.createConnection(connectionOf(db));
    try {
      await holder.query("SELECT GET_LOCK('webstack.migrations', 0)");
      await expect(run(APP_MIGRATIONS, 1)).rejects.toMatchObject({
        exitCode: EXIT.database,
        message: expect.stringMatching(/held the lock webstack\.migrations for over 1 s/),
      });
      expect(await tables()).toEqual([]);
    } finally {
      await holder.end();
    }
    expect((await run()).length).toBeGreaterThan(0);
  });

  it('refuses to run when an applied file was edited, naming it, and applies nothing', async () => {
    await run();
    const dir = await folder({ '900_later.sql': 'CREATE TABLE later (id INT PRIMARY KEY);' });
    const [first] = (await readdir(dir)).filter((n) => MIGRATION_FILE.test(n)).sort();
    await writeFile(join(dir, first!), '-- edited\n', { flag: 'a' });
    await expect(run(dir)).rejects.toMatchObject({
      exitCode: EXIT.refused,
      message: expect.stringContaining(`migration ${first} was edited after it was applied`),
    });
    expect(await tables()).not.toContain('later');
  });

  it('refuses a failing migration: not recorded, the ones before it kept, applied once fixed', async () => {
    const dir = await folder({
      '900_good.sql': 'CREATE TABLE good (id INT PRIMARY KEY);',
      '901_broken.sql': 'CREATE TABLE broken (id INT PRIMARY KEY;',
    });
    await expect(run(dir)).rejects.toMatchObject({
      exitCode: EXIT.refused,
      message: expect.stringMatching(/^migration 901_broken\.sql failed: .*applied before it: .*900_good\.sql/),
    });
    const recorded = await sql<{ name: string }>('SELECT name FROM schema_migrations');
    expect(recorded.map((r) => r.name)).toContain('900_good.sql');
    expect(recorded.map((r) => r.name)).not.toContain('901_broken.sql');
    await writeFile(join(dir, '901_broken.sql'), 'CREATE TABLE broken (id INT PRIMARY KEY);');
    expect(await run(dir)).toEqual(['901_broken.sql']);
  });

  it('refuses a folder with a misnamed SQL file or a version twice before touching the database', async () => {
    await expect(run(await folder({ 'add-tags.sql': 'SELECT 1;' }))).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: expect.stringContaining('bad migration file name add-tags.sql'),
    });
    await expect(run(await folder({ '001_twin.sql': 'SELECT 1;' }))).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: expect.stringMatching(/001_twin\.sql share version 1$/),
    });
    // Files that are not SQL (a README) are no migrations.
    expect(await run(await folder({ 'README.md': 'notes' }))).not.toEqual([]);
    expect(await tables()).toContain('posts');
  });

  it('says when there is no database to talk to', async () => {
    await expect(
      migrate({
        connection: { ...connectionOf(db), host: '127.0.0.1', port: 1, connectTimeout: 2_000 },
        dir: APP_MIGRATIONS,
        lockWaitSeconds: 1,
        log: silent,
      }),
    ).rejects.toMatchObject({
      exitCode: EXIT.database,
      message: expect.stringMatching(/^cannot connect to the database at 127\.0\.0\.1:1: /),
    });
  });

  it('waits for a database that does not accept connections yet, for as long as it is told', async () => {
    const started = Date.now();
    await expect(
      migrate({
        connection: { ...connectionOf(db), host: '127.0.0.1', port: 1 },
        dir: APP_MIGRATIONS,
        lockWaitSeconds: 1,
        connectWaitSeconds: 3,
        log: silent,
      }),
    ).rejects.toMatchObject({
      exitCode: EXIT.database,
      message: expect.stringMatching(/^cannot connect to the database at 127\.0\.0\.1:1 \(tried for 3 s\): /),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
  });

  it('does not wait when the database refuses the login: a wrong password stays wrong', async () => {
    const started = Date.now();
    await expect(
      migrate({
        connection: { ...connectionOf(db), password: 'not-the-password' },
        dir: APP_MIGRATIONS,
        lockWaitSeconds: 1,
        connectWaitSeconds: 60,
        log: silent,
      }),
    ).rejects.toMatchObject({ exitCode: EXIT.database, message: expect.stringMatching(/Access denied/) });
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('the migrate image', () => {
  it('applies the mounted folder, logs JSON lines and exits 0; again: up to date', async () => {
    const first = await runImage(await folder());
    expect(first.exitCode).toBe(EXIT.ok);
    expect(first.lines.every((line) => line.service === 'migrate')).toBe(true);
    expect(first.lines.map((line) => line.msg)).toContain('applying migration');
    expect((await runImage(APP_MIGRATIONS)).lines.at(-1)?.msg).toBe('the schema is up to date');
  });

  it('exits with the failure kind and names the file or the setting', async () => {
    const broken = await runImage(await folder({ '901_broken.sql': 'NOT SQL AT ALL;' }));
    expect(broken.exitCode).toBe(EXIT.refused);
    expect(broken.lines.at(-1)?.msg).toMatch(/^migration run failed: migration 901_broken\.sql failed: /);
    const misnamed = await runImage(await folder({ 'tags.sql': 'SELECT 1;' }));
    expect(misnamed.exitCode).toBe(EXIT.usage);
    expect(misnamed.lines.at(-1)?.msg).toContain('bad migration file name tags.sql');
    const noDatabase = await runImage(APP_MIGRATIONS, { DB_PORT: '1', DB_WAIT_SECONDS: '2' });
    expect(noDatabase.exitCode).toBe(EXIT.database);
    expect(noDatabase.lines.map((line) => line.msg)).toContainEqual(
      expect.stringMatching(/^waiting for the database at .*:1$/),
    );
    expect(noDatabase.lines.at(-1)?.msg).toMatch(/^migration run failed: cannot connect .* \(tried for 2 s\)/);
    const badSetting = await runImage(APP_MIGRATIONS, { DB_PORT: 'three' });
    expect(badSetting.exitCode).toBe(EXIT.usage);
    expect(badSetting.lines.at(-1)?.msg).toMatch(/^configuration: .*DB_PORT/);
  });
});
