import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { StackTarget } from '../core/compose.js';
import { execIn, serviceContainer } from '../core/docker.js';
import type { Log } from '../core/steps.js';

// Run inside the db container, where the official image (and our stand-in) keep the root
// password and database name in the environment: nothing secret crosses the command line.
const DUMP = [
  'sh',
  '-c',
  'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysqldump --user=root --single-transaction --quick ' +
    '--routines --triggers --events --add-drop-database --databases "$MYSQL_DATABASE"',
];
/** SQL on stdin, run as the database's root in the db container. */
export const LOAD = ['sh', '-c', 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysql --user=root'];
// MariaDB 11 puts a sandbox-mode comment first, so the header is looked for near the top.
const HEADER = /^-- (MySQL|MariaDB) dump /m;
const TRAILER = /^-- Dump completed/;

export interface BackupOptions extends StackTarget {
  dir: string;
  /** How many of this project's backups to keep in `dir`; older ones are deleted. */
  keep?: number;
  log?: Log;
}

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
  deleted: string[];
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('.', '');
const size = (bytes: number) =>
  bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * A consistent dump while the site serves writes (--single-transaction: one InnoDB
 * snapshot, no locks on the posts table), gzip-compressed and timestamped. It is written
 * to a .partial file and only renamed once checked complete, so the directory never
 * holds a backup that would not restore.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const { project, keep = 7, log = console.log } = options;
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${project}-${stamp()}.sql.gz`);
  const partial = `${file}.partial`;
  const started = performance.now();
  log(`dumping the database of "${project}" to ${partial}`);

  const gzip = createGzip();
  const written = pipeline(gzip, createWriteStream(partial, { mode: 0o600 }));
  const dump = await execIn(await serviceContainer(project, 'db'), DUMP, { stdout: gzip });
  await written;
  try {
    if (dump.exitCode !== 0) throw new Error(`mysqldump failed (exit ${dump.exitCode}): ${dump.stderr.trim()}`);
    await validateBackup(partial);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  await rename(partial, file);

  const ours = (await readdir(dir)).filter((name) => name.startsWith(`${project}-`) && name.endsWith('.sql.gz')).sort();
  const deleted = ours.slice(0, Math.max(0, ours.length - keep)).map((name) => join(dir, name));
  for (const old of deleted) await rm(old);
  const bytes = (await stat(file)).size;
  const ms = performance.now() - started;
  log(
    `wrote ${file} (${size(bytes)}) in ${(ms / 1000).toFixed(1)} s; kept the newest ${Math.min(ours.length, keep)}, deleted ${deleted.length}`,
  );
  return { file, bytes, ms, deleted };
}

/**
 * Refuses anything but a complete dump: the gzip stream must be intact (CRC and length
 * checked to the end) and the SQL must start with mysqldump's header and end with the
 * line it writes last. Reads the file only; touches no database.
 */
export async function validateBackup(file: string): Promise<void> {
  let head = '';
  let tail = '';
  const gunzip = createGunzip();
  // A damaged stream can make zlib report a second error after the first; the pipeline
  // below has already failed with the first, and the second must not crash the process.
  gunzip.on('error', () => undefined);
  try {
    // Read to the very end: zlib reports a truncated stream only when its output ends.
    await pipeline(createReadStream(file), gunzip, async (sql: AsyncIterable<Buffer>) => {
      for await (const chunk of sql) {
        if (head.length < 300) head += chunk.toString('utf8', 0, 300);
        tail = (tail + chunk.toString('utf8')).slice(-400);
      }
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${file}: no such file`, { cause: err });
    throw new Error(
      `${file} is not a usable backup: it is corrupt or truncated (gzip: ${(err as Error).message}); nothing was restored`,
      { cause: err },
    );
  }
  if (!HEADER.test(head))
    throw new Error(`${file} is not a usable backup: it does not start like a mysqldump file; nothing was restored`);
  const lastLine = tail.trimEnd().split('\n').at(-1) ?? '';
  if (!TRAILER.test(lastLine)) {
    throw new Error(
      `${file} is not a usable backup: the dump is incomplete (no "-- Dump completed" line at its end); nothing was restored`,
    );
  }
}

export interface RestoreOptions extends StackTarget {
  file: string;
  /** Overwrite without asking (--yes). */
  yes?: boolean;
  /** Asks the operator; without it and without `yes`, restore refuses. */
  confirm?(question: string): Promise<boolean>;
  log?: Log;
}

/** Replaces the stack's database with a backup, after checking the file is complete. */
export async function restore(options: RestoreOptions): Promise<{ ms: number }> {
  const { project, log = console.log } = options;
  const file = resolve(options.file);
  await validateBackup(file);
  const question = `This REPLACES every table of the database of "${project}" with ${file}. Continue?`;
  if (!options.yes) {
    if (!options.confirm) throw new Error('restore overwrites the database: confirm interactively or pass --yes');
    if (!(await options.confirm(question))) throw new Error('restore cancelled; nothing was changed');
  }
  const started = performance.now();
  log(`restoring ${file} into the database of "${project}"`);
  const sql = createReadStream(file).pipe(createGunzip());
  const load = await execIn(await serviceContainer(project, 'db'), LOAD, { stdin: sql });
  await finished(sql).catch(() => undefined);
  if (load.exitCode !== 0)
    throw new Error(`mysql failed while restoring (exit ${load.exitCode}): ${load.stderr.trim()}`);
  const ms = performance.now() - started;
  log(`restored in ${(ms / 1000).toFixed(1)} s`);
  return { ms };
}
