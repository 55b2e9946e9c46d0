// Off-site backups on a VPS (docs/backups.md): which settings turn them on and whether they
// are right, before setup touches the server; and what the backup service's status file
// says, as scripts/vps backup status prints it. Pure, so both are unit-tested.
import { envLine } from './settings.js';

export const BACKUP_SERVICE = 'backup';
export const backupImage = (tag: string) => `webstack/${BACKUP_SERVICE}:${tag}`;

/**
 * Run in the db container as its root, once the database is up: lets the app's user, which the
 * backup service logs in as, rotate the binary log (RELOAD), see where it is (REPLICATION
 * CLIENT: a dump's position) and read it (REPLICATION SLAVE). The same names in MySQL 8.4 and
 * MariaDB; granting them again changes nothing.
 */
export const BINLOG_GRANT = [
  'sh',
  '-c',
  `MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysql --user=root -e "GRANT RELOAD, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO '$MYSQL_USER'@'%'"`,
];

/**
 * The secrets come from this machine's environment (or the repo's .env), never from the
 * deployment file: files here whose contents setup writes into the server's .env.
 */
const SECRET_FILES = { BACKUP_PASSWORD_FILE: 'BACKUP_PASSWORD', BACKUP_SSH_KEY_FILE: 'BACKUP_SSH_KEY' } as const;
const SECRET_VALUES = ['BACKUP_S3_ACCESS_KEY_ID', 'BACKUP_S3_SECRET_ACCESS_KEY'] as const;
/** The settings (deployment file or --set) the backup service reads besides the secrets. */
const SETTINGS = [
  'BACKUP_REPOSITORY',
  'BACKUP_SCHEDULE',
  'BACKUP_BINLOG_INTERVAL',
  'BACKUP_KEEP_LAST',
  'BACKUP_KEEP_DAILY',
  'BACKUP_KEEP_WEEKLY',
  'BACKUP_KEEP_MONTHLY',
];

/** Seconds in each unit a duration setting or flag may use (30s, 15m, 6h, 1d). */
export const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * An interval setting (BACKUP_SCHEDULE, BACKUP_BINLOG_INTERVAL) in seconds: a whole number and
 * a unit (30s, 15m, 6h, 1d), as the service reads it.
 */
export function intervalSeconds(text: string, name = 'BACKUP_SCHEDULE'): number {
  const match = /^([1-9]\d*)([smhd])$/.exec(text);
  if (!match) throw new Error(`${name}=${text}: give an interval such as 30s, 15m, 6h or 1d`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

/**
 * restore --to TIME, as the service's binary log replay takes it ('YYYY-MM-DD HH:MM:SS', UTC):
 * a date and a time to the second, in UTC (Z or no zone) or with an offset (+02:00).
 */
export function restoreTime(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?$/.exec(text.trim());
  const [date, clock, zone] = match ? [match[1]!, match[2]!, match[3] ?? 'Z'] : [];
  const time = new Date(`${date}T${clock}${zone}`);
  // Date rolls an impossible date or time over (02-30 to 03-02): a real one reads back the same.
  if (!match || Number.isNaN(time.getTime()) || new Date(`${date}T${clock}Z`).toISOString() !== `${date}T${clock}.000Z`)
    throw new Error(
      `--to ${text}: give a time such as 2026-12-07T21:15:00Z (UTC) or 2026-12-07T22:15:00+01:00, to the second`,
    );
  return time.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The repository restic writes to: off the server, so SFTP (sftp:user@host:/path or
 * sftp://user@host:port//path), S3-compatible storage (s3:…) or a REST server (rest:…).
 */
export function checkRepository(text: string): 'sftp' | 's3' | 'rest' {
  if (/^sftp:(\/\/)?[^@\s/]+@[^\s:/]+(:\d+)?(:|\/).+$/.test(text)) return 'sftp';
  if (/^s3:\S+$/.test(text)) return 's3';
  if (/^rest:https?:\/\/\S+$/.test(text)) return 'rest';
  throw new Error(
    `BACKUP_REPOSITORY=${text}: give a repository off the server: sftp:user@host:/path, s3:https://host/bucket/path or rest:https://host/path`,
  );
}

/**
 * The server's backup settings from the stack settings (`extra`: the deployment file and
 * --set) and this machine's environment (the secrets' files): the settings with each secret
 * file's contents in place of its name; none when BACKUP_REPOSITORY is not set. Throws,
 * naming the setting, at anything wrong.
 */
export function backupSettings(
  extra: Record<string, string>,
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string,
): Record<string, string> | undefined {
  for (const name of [...Object.values(SECRET_FILES), ...SECRET_VALUES, ...Object.keys(SECRET_FILES)])
    if (extra[name] !== undefined)
      throw new Error(
        `${name}: a secret is not a stack setting; set ${name.endsWith('_FILE') || SECRET_VALUES.includes(name as never) ? name : `${name}_FILE`} in this machine's environment (or the repo's .env)`,
      );
  const repository = extra.BACKUP_REPOSITORY;
  if (repository === undefined) {
    const stray = SETTINGS.filter((name) => extra[name] !== undefined);
    if (stray.length > 0)
      throw new Error(
        `${stray.join(', ')}: set BACKUP_REPOSITORY too, or leave ${stray.length === 1 ? 'it' : 'them'} out`,
      );
    return undefined;
  }
  const kind = checkRepository(repository);
  for (const name of ['BACKUP_SCHEDULE', 'BACKUP_BINLOG_INTERVAL'])
    if (extra[name] !== undefined) intervalSeconds(extra[name], name);
  for (const name of SETTINGS.filter((n) => n.startsWith('BACKUP_KEEP_')))
    if (extra[name] !== undefined && !/^\d+$/.test(extra[name]))
      throw new Error(`${name}=${extra[name]}: give a whole number of snapshots (0 leaves the rule out)`);
  const secrets: Record<string, string> = {};
  const needed =
    kind === 'sftp' ? (['BACKUP_PASSWORD_FILE', 'BACKUP_SSH_KEY_FILE'] as const) : (['BACKUP_PASSWORD_FILE'] as const);
  for (const name of needed) {
    const file = env[name];
    if (!file)
      throw new Error(
        `${name}: BACKUP_REPOSITORY is set, so give the file holding the ${name === 'BACKUP_PASSWORD_FILE' ? "repository's password" : 'SSH private key the backups log in to the target with'} (in this machine's environment or the repo's .env)`,
      );
    let text;
    try {
      text = readFile(file).trim();
    } catch (err) {
      throw new Error(
        `${name}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        {
          cause: err,
        },
      );
    }
    if (!text) throw new Error(`${name}=${file}: the file is empty`);
    secrets[SECRET_FILES[name]] = text;
  }
  for (const name of SECRET_VALUES) if (env[name]) secrets[name] = env[name];
  if (kind === 's3' && !(secrets.BACKUP_S3_ACCESS_KEY_ID && secrets.BACKUP_S3_SECRET_ACCESS_KEY))
    throw new Error(
      "BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY: an s3: repository needs both, in this machine's environment",
    );
  for (const [name, value] of Object.entries(secrets)) {
    try {
      envLine(name, value);
    } catch (err) {
      throw new Error(
        `${name} (from ${Object.entries(SECRET_FILES).find(([, v]) => v === name)?.[0] ?? name}): ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return { ...extra, ...secrets };
}

/** The backup service's status file (status.json), as far as scripts/vps and the monitor read it. */
export interface BackupStatus {
  schedule?: string;
  interval_seconds?: number;
  repository?: string;
  started?: string;
  host?: string;
  last_attempt?: string;
  last_success?: string;
  last_snapshot?: string;
  last_size?: number;
  snapshots?: number;
  last_error?: string | null;
  restored?: { snapshot: string; time: string; host: string };
  binlog_interval?: string;
  binlog_last_attempt?: string;
  binlog_last_success?: string;
  binlog_last_file?: string;
  binlog_last_error?: string | null;
}

const age = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
};
const size = (bytes: number) =>
  bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** scripts/vps backup status's report: the last good backup (when, age, size), the snapshots, the last error. */
export function formatStatus(label: string, status: BackupStatus, now: Date): string {
  const lines = [
    `${label}: off-site backups to ${status.repository ?? 'an unknown repository'} every ${status.schedule ?? '?'}`,
  ];
  if (status.last_success) {
    const when = new Date(status.last_success);
    lines.push(
      `  last good backup: ${status.last_success} (${age(now.getTime() - when.getTime())} ago), snapshot ${status.last_snapshot ?? '?'}, ${status.last_size === undefined ? 'size unknown' : size(status.last_size)}`,
    );
  } else lines.push('  last good backup: none yet');
  if (status.snapshots !== undefined) lines.push(`  snapshots in the repository: ${status.snapshots}`);
  if (status.binlog_interval) {
    const shipped = status.binlog_last_success
      ? `${status.binlog_last_success} (${age(now.getTime() - new Date(status.binlog_last_success).getTime())} ago), up to ${status.binlog_last_file ?? 'no closed file yet'}`
      : 'not yet';
    lines.push(`  binary log shipped every ${status.binlog_interval}: last ${shipped}`);
    if (status.binlog_last_error)
      lines.push(`  binary log error: ${status.binlog_last_error} (at ${status.binlog_last_attempt ?? '?'})`);
  }
  if (status.restored)
    lines.push(
      `  restored: snapshot ${status.restored.snapshot} of ${status.restored.time} (from ${status.restored.host})`,
    );
  lines.push(`  last error: ${status.last_error ? `${status.last_error} (at ${status.last_attempt ?? '?'})` : 'none'}`);
  return lines.join('\n');
}
