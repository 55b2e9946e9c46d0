import type Docker from 'dockerode';
import { execIn } from './docker.js';

/**
 * Runs SQL as root in a stack's database container, on the app's database, and returns
 * the rows as tab-separated lines. The password and database name come from the
 * container's own environment (the official image's MYSQL_* contract), so no secret
 * crosses the command line.
 */
export async function sqlAsRoot(db: Docker.Container, statement: string): Promise<string> {
  const result = await execIn(db, [
    'sh',
    '-c',
    'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysql -uroot -N -B "$MYSQL_DATABASE" -e "$1"',
    'sh',
    statement,
  ]);
  if (result.exitCode !== 0) throw new Error(`SQL failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout.trim();
}
