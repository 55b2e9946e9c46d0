import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import mysql, { type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';

/** What went wrong, and the exit code main.ts ends with for it. */
export class MigrateError extends Error {
  constructor(
    message: string,
    readonly exitCode: (typeof EXIT)[keyof typeof EXIT],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The runner's exit codes: each kind of failure its own, so a deploy script can tell them apart. */
export const EXIT = {
  ok: 0,
  /** A migration's SQL failed, or an applied file was edited: the schema is refused. */
  refused: 1,
  /** A wrong setting or a bad folder (a file name that does not follow the rule, a version twice). */
  usage: 2,
  /** No database to talk to, or another runner held the lock too long. */
  database: 3,
} as const;

/** `<version>_<name>.sql`: digits, an underscore, letters, digits, _ or -. */
export const MIGRATION_FILE = /^(\d+)_[\w-]+\.sql$/;
// Two runners (a deploy's and a restarted stack's, or two replicas' jobs) must not migrate at once.
const LOCK_NAME = 'webstack.migrations';

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

/**
 * The folder's migrations in version order. Every .sql file must follow the naming rule (a
 * misnamed one would otherwise be skipped in silence); other files (a README) are left out.
 */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    throw new MigrateError(`cannot read the migrations folder ${dir}: ${err.code ?? err.message}`, EXIT.usage, {
      cause: err,
    });
  });
  const sqlFiles = entries.filter((name) => name.endsWith('.sql'));
  const misnamed = sqlFiles.filter((name) => !MIGRATION_FILE.test(name));
  if (misnamed.length > 0) {
    throw new MigrateError(
      `bad migration file name ${misnamed.join(', ')}: name each file <version>_<name>.sql, e.g. 002_add_tags.sql`,
      EXIT.usage,
    );
  }
  const migrations: Migration[] = [];
  for (const name of sqlFiles) {
    const sql = await readFile(`${dir}/${name}`, 'utf8');
    const version = Number(MIGRATION_FILE.exec(name)?.[1]);
    const twin = migrations.find((m) => m.version === version);
    if (twin) throw new MigrateError(`${twin.name} and ${name} share version ${version}`, EXIT.usage);
    migrations.push({ version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

export interface MigrateOptions {
  connection: ConnectionOptions;
  dir: string;
  lockWaitSeconds: number;
  /** How long to keep trying while the database does not accept connections yet (default: no wait). */
  connectWaitSeconds?: number;
  log: Logger;
}

// Errors of a server that is not listening yet (or restarting, as the image's first-start
// initialisation does): worth another try. Anything else (a wrong password) is final.
const NOT_YET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
]);

async function connect(connection: ConnectionOptions, waitSeconds: number, log: Logger) {
  const deadline = Date.now() + waitSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await mysql.createConnection({ ...connection, multipleStatements: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!NOT_YET.has(code) || Date.now() >= deadline) {
        throw new MigrateError(
          `cannot connect to the database at ${connection.host}:${connection.port}` +
            `${attempt > 1 ? ` (tried for ${waitSeconds} s)` : ''}: ${(err as Error).message}`,
          EXIT.database,
          { cause: err },
        );
      }
      if (attempt % 10 === 1) log.info({ code }, `waiting for the database at ${connection.host}:${connection.port}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in order, once each, under a
 * lock. Refuses to run if an applied migration's file was edited afterwards, before
 * applying anything. Returns the names of the migrations it applied.
 */
export async function migrate({
  connection,
  dir,
  lockWaitSeconds,
  connectWaitSeconds = 0,
  log,
}: MigrateOptions): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const conn = await connect(connection, connectWaitSeconds, log);
  try {
    const [[lock]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS taken', [LOCK_NAME, lockWaitSeconds]);
    if (lock?.taken !== 1) {
      throw new MigrateError(
        `another migration run held the lock ${LOCK_NAME} for over ${lockWaitSeconds} s`,
        EXIT.database,
      );
    }
    await conn.query(CREATE_TABLE);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [Number(row.version), String(row.checksum)]));
    const edited = migrations.filter((m) => applied.has(m.version) && applied.get(m.version) !== m.checksum);
    if (edited.length > 0) {
      throw new MigrateError(
        `migration ${edited.map((m) => m.name).join(', ')} was edited after it was applied; restore its applied text and add a new migration instead`,
        EXIT.refused,
      );
    }
    const done: string[] = [];
    for (const migration of migrations.filter((m) => !applied.has(m.version))) {
      log.info({ migration: migration.name }, 'applying migration');
      try {
        await conn.query(migration.sql);
      } catch (err) {
        throw new MigrateError(
          `migration ${migration.name} failed: ${(err as Error).message}; it is not recorded, fix the file and run again${done.length > 0 ? ` (applied before it: ${done.join(', ')})` : ''}`,
          EXIT.refused,
          { cause: err },
        );
      }
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
