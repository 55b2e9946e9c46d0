import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../scripts/tool/commands/dispatch.js';
import { COMMANDS } from '../../scripts/tool/commands/index.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { parseFacts, setupProblems } from '../../scripts/tool/vps/facts.js';
import { grepOption, logsCommand, sinceOption, withoutEscapes } from '../../scripts/tool/vps/operate.js';
import {
  chooseRelease,
  DEFAULT_KEEP_RELEASES,
  formatReleases,
  keepFrom,
  keptReleases,
  readReleases,
} from '../../scripts/tool/vps/releases.js';
import {
  backupSettings,
  formatStatus,
  restoreTime,
  intervalSeconds,
  type BackupStatus,
} from '../../scripts/tool/vps/backups.js';
import { outcomes } from '../../scripts/tool/vps/server.js';
import { envLine, envSettings, parseSets } from '../../scripts/tool/vps/settings.js';

/** A private key's shape (not a usable key): what a BACKUP_SSH_KEY_FILE holds. */
const KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n';

const facts = (overrides: Record<string, string> = {}) =>
  parseFacts(
    Object.entries({
      os_id: 'debian',
      os_version: '13',
      os_name: 'Debian GNU/Linux 13 (trixie)',
      arch: 'x86_64',
      user: 'root',
      root: 'yes',
      systemd: 'yes',
      apt: 'yes',
      disk_free_mb: '20000',
      memory_mb: '2048',
      ssh_address: '203.0.113.7',
      ssh_port: '22',
      ...overrides,
    })
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );

describe('scripts/vps: what setup accepts', () => {
  it('reads the facts a server reports', () => {
    expect(facts()).toMatchObject({ osId: 'debian', osVersion: '13', root: true, diskFreeMb: 20000, sshPort: 22 });
  });

  it('accepts Debian 12 and 13, Ubuntu 22.04 and 24.04 on the architecture built here', () => {
    for (const [id, version] of [
      ['debian', '12'],
      ['debian', '13'],
      ['ubuntu', '22.04'],
      ['ubuntu', '24.04'],
    ]) {
      expect(setupProblems(facts({ os_id: id!, os_version: version! }), 'amd64')).toEqual([]);
    }
  });

  it('refuses, each time saying what to do: old or other systems, no sudo, another architecture, a full disk', () => {
    expect(setupProblems(facts({ os_version: '11', os_name: 'Debian GNU/Linux 11 (bullseye)' }), 'amd64')).toEqual([
      'the server runs Debian GNU/Linux 11 (bullseye), which setup does not handle: use a fresh Debian 12 or 13 or Ubuntu 22.04 or 24.04 server',
    ]);
    expect(setupProblems(facts({ os_id: 'centos', os_version: '9', apt: 'no' }), 'amd64')).toHaveLength(2);
    expect(setupProblems(facts({ user: 'deploy', root: 'no' }), 'amd64')[0]).toMatch(/allow deploy passwordless sudo/);
    expect(setupProblems(facts({ arch: 'aarch64' }), 'amd64')[0]).toMatch(
      /server is arm64 but this machine builds amd64/,
    );
    expect(setupProblems(facts({ disk_free_mb: '900' }), 'amd64')[0]).toMatch(
      /900 MB free on \/, setup needs at least/,
    );
    expect(setupProblems(facts({ systemd: 'no' }), 'amd64')[0]).toMatch(/no systemctl/);
  });
});

describe("scripts/vps: the server's .env settings", () => {
  it('writes plain values as they are and a PEM double-quoted on one line', () => {
    expect(envLine('SITE_DOMAIN', 'www.example.com')).toBe('SITE_DOMAIN=www.example.com');
    expect(envLine('ACME_DIRECTORY_CA', '-----BEGIN CERTIFICATE-----\nAB+/=\n-----END CERTIFICATE-----')).toBe(
      'ACME_DIRECTORY_CA="-----BEGIN CERTIFICATE-----\\nAB+/=\\n-----END CERTIFICATE-----"',
    );
    expect(() => envLine('X', 'a$b')).toThrow(/quotes, backslashes and \$/);
    expect(() => envLine('lower', 'x')).toThrow(/not a setting name/);
  });

  it('takes --set KEY=VALUE but never the passwords', () => {
    expect(parseSets(['RATE_LIMIT_READS=100r/s', 'A='])).toEqual({ RATE_LIMIT_READS: '100r/s', A: '' });
    expect(() => parseSets(['MYSQL_PASSWORD=x'])).toThrow(/generated on the server and stay there/);
    expect(() => parseSets(['novalue'])).toThrow(/give KEY=VALUE/);
  });

  it('is the same text for the same settings (so a second setup finds nothing to change)', () => {
    const images = imagesOf({ IMAGE_TAG: 'v1' });
    const settings = {
      domain: 'www.example.com',
      email: 'me@example.com',
      serverIpv4: '203.0.113.7',
      extra: { B: '2', A: '1' },
    };
    const text = envSettings(settings, images);
    expect(envSettings({ ...settings, extra: { A: '1', B: '2' } }, images)).toBe(text);
    expect(text).toContain('COMPOSE_FILE=docker-compose.yml:scripts/tool/vps/host-network.compose.yml');
    expect(text).toContain('IMAGE_TAG=v1\n');
    expect(text).not.toContain('ACME_DIRECTORY=');
    expect(text).not.toMatch(/PASSWORD/);
    expect(text.endsWith('A=1\nB=2')).toBe(true);
  });

  it("counts a server script's changes", () => {
    expect(outcomes('ok: a\nchanged: b\nprogress: c\nchanged: d\nremoved: E F\nsettings: G\n')).toEqual({
      ok: ['a'],
      changed: ['b', 'd'],
      removed: ['E', 'F'],
      settings: ['G'],
    });
  });
});

describe("scripts/vps: the server's releases, read from its record", () => {
  const [a, b, c, d] = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc', 'dddddddddddd'];
  const record = [
    '2026-12-01T10:00:00.000Z setup: 9 changes; webstack/app:v1 (aaaaaaaaaaaa) live as webstack/app:v1',
    '2026-12-01T11:00:00.000Z setup: 1 change; webstack/app:v1 (aaaaaaaaaaaa) live as webstack/app:v1',
    '2026-12-02T10:00:00.000Z deploy: webstack/app:v1-r2 (bbbbbbbbbbbb) live as webstack/app:v1',
    '2026-12-03T10:00:00.000Z deploy: webstack/app:v1-r3 (cccccccccccc) live as webstack/app:v1',
    // Written before rollbacks named their release.
    '2026-12-04T10:00:00.000Z rollback: bbbbbbbbbbbb live as webstack/app:v1',
    '2026-12-05T10:00:00.000Z setup: 2 changes; webstack/app:v1',
    '2026-12-06T10:00:00.000Z deploy: registry:5000/webstack/app:x (dddddddddddd) live as webstack/app:v1',
  ].join('\n');
  const all = [a, b, c, d].map((id) => `sha256:${id}${'0'.repeat(52)}`);

  it('lists each release once, most recently live first, with every period it was live', () => {
    const releases = readReleases(record, all, all[3]!, 'webstack/app:v1');
    expect(releases.map((r) => [r.id, r.name, r.live])).toEqual([
      [d, 'registry:5000/webstack/app:x', true],
      [b, 'webstack/app:v1-r2', false],
      [c, 'webstack/app:v1-r3', false],
      [a, 'webstack/app:v1', false],
    ]);
    expect(releases[1]!.periods.map((p) => [p.from.toISOString(), p.to?.toISOString()])).toEqual([
      ['2026-12-02T10:00:00.000Z', '2026-12-03T10:00:00.000Z'],
      ['2026-12-04T10:00:00.000Z', '2026-12-06T10:00:00.000Z'],
    ]);
    expect(formatReleases(releases).split('\n')).toEqual([
      `LIVE  ${d}  registry:5000/webstack/app:x  2026-12-06T10:00:00Z to now`,
      `      ${b}  webstack/app:v1-r2  2026-12-02T10:00:00Z to 2026-12-03T10:00:00Z, 2026-12-04T10:00:00Z to 2026-12-06T10:00:00Z`,
      `      ${c}  webstack/app:v1-r3  2026-12-03T10:00:00Z to 2026-12-04T10:00:00Z`,
      `      ${a}  webstack/app:v1  2026-12-01T10:00:00Z to 2026-12-02T10:00:00Z`,
    ]);
  });

  it('shows only releases the server still has; what runs is live, recorded or not', () => {
    const releases = readReleases(
      record,
      [all[0]!, all[2]!, `sha256:${'e'.repeat(64)}`],
      `sha256:${'e'.repeat(64)}`,
      'webstack/app:v1',
    );
    expect(releases.map((r) => [r.id, r.live])).toEqual([
      ['e'.repeat(12), true],
      [c, false],
      [a, false],
    ]);
    expect(readReleases('', all, all[0]!, 'webstack/app:v1').map((r) => r.name)).toEqual(['webstack/app:v1']);
  });

  it('keeps the N most recently live, the live one and the previous one whatever N says', () => {
    const releases = readReleases(record, all, all[3]!, 'webstack/app:v1');
    expect([...keptReleases(releases, 2, [all[3], undefined])]).toEqual([d, b]);
    expect([...keptReleases(releases, 1, [all[3], all[0]])].sort()).toEqual([a, d]);
    expect(keptReleases(releases, 5, []).size).toBe(4);
  });

  it('chooses a release by name or id; an unknown one is refused, naming those there are', () => {
    const releases = readReleases(record, all, all[3]!, 'webstack/app:v1');
    expect(chooseRelease(releases, 'webstack/app:v1-r3', 'root@h').id).toBe(c);
    expect(chooseRelease(releases, b, 'root@h').name).toBe('webstack/app:v1-r2');
    expect(() => chooseRelease(releases, 'webstack/app:nope', 'root@h')).toThrow(
      /^no release webstack\/app:nope on root@h; its releases: registry:5000\/webstack\/app:x \(d{12}\), .*; nothing was changed$/,
    );
  });

  it("takes KEEP_RELEASES from the server's .env, else the default", () => {
    expect(keepFrom('SITE_DOMAIN=www.example.com\n')).toBe(DEFAULT_KEEP_RELEASES);
    expect(keepFrom('KEEP_RELEASES=3\n')).toBe(3);
    expect(() => keepFrom('KEEP_RELEASES=0\n')).toThrow(/KEEP_RELEASES=0 in the server's .env: give a whole number/);
    expect(() => keepFrom('KEEP_RELEASES=five\n')).toThrow(/KEEP_RELEASES=five/);
  });
});

describe('scripts/vps: logs filters', () => {
  it('--since: a duration back from now in seconds, or a time in UTC; anything else names the option', () => {
    expect(sinceOption('30s')).toBe('30s');
    expect(sinceOption('10m')).toBe('600s');
    expect(sinceOption('1h30m')).toBe('5400s');
    expect(sinceOption('1d')).toBe('86400s');
    expect(sinceOption('2026-12-07T17:00:00Z')).toBe('2026-12-07T17:00:00.000Z');
    expect(sinceOption('2026-12-07T19:00:00+02:00')).toBe('2026-12-07T17:00:00.000Z');
    for (const bad of ['10', 'ten minutes', '5w', '2026-13-45', ''])
      expect(() => sinceOption(bad), bad).toThrow(/^--since .*: give a duration back from now/);
  });

  it('--grep: a regular expression; a broken one names the option', () => {
    expect(grepOption('5\\d\\d').test('nginx-1  | "GET / HTTP/1.1" 502')).toBe(true);
    expect(() => grepOption('(')).toThrow(/^--grep \(: not a regular expression/);
    expect(() => grepOption('')).toThrow(/^--grep: give a pattern/);
  });

  it('only the matching lines go through, escapes removed, also a last line without a newline', async () => {
    const chunks = ['\x1b[2Knginx-1  | GET / 200\nnginx-1  | GET /x 5', '04\napp-1  | ready\napp-1  | oops 500'];
    expect(await text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(withoutEscapes(/ 5\d\d/)))).toBe(
      'nginx-1  | GET /x 504\napp-1  | oops 500',
    );
  });

  it('the server runs compose logs with --since as given to it', () => {
    expect(logsCommand({ tail: 10, since: '600s', service: 'app' }, false)).toBe(
      'cd /opt/webstack && docker compose logs --tail 10 --since 600s --no-color app',
    );
  });
});

describe('scripts/vps: command lines refused before any server is reached', () => {
  const run = async (argv: string[]) => {
    const lines: string[] = [];
    const status = await dispatch(COMMANDS, ['vps', ...argv], { out: (t) => lines.push(t), err: (t) => lines.push(t) });
    return { status, output: lines.join('\n') };
  };
  // A documentation address (TEST-NET-1): nothing is ever sent to it.
  const host = 'root@192.0.2.1';

  it('logs: a bad --since or --grep, named', async () => {
    const since = await run(['logs', host, '--since', 'yesterday']);
    expect(since.status).toBe(2);
    expect(since.output).toContain('error: --since yesterday: give a duration back from now');
    const grep = await run(['logs', host, '--grep', '[']);
    expect(grep.status).toBe(2);
    expect(grep.output).toContain('error: --grep [: not a regular expression');
  });

  it('exec: the command comes after --', async () => {
    for (const argv of [
      ['exec', host],
      ['exec', host, '--'],
      ['exec', host, 'ls'],
    ]) {
      const result = await run(argv);
      expect(result.status, argv.join(' ')).toBe(2);
      expect(result.output).toContain('give the command after --, e.g. -- node --version');
    }
  });

  it('backup: now, status or nothing; restore --from-offsite: a snapshot id, --to a time', async () => {
    const backup = await run(['backup', host, 'later']);
    expect(backup.status).toBe(2);
    expect(backup.output).toContain('backup later: give now, status, or nothing (a dump to this machine)');
    const restore = await run(['restore', host, '--from-offsite', '../etc']);
    expect(restore.status).toBe(2);
    expect(restore.output).toContain('../etc is not a snapshot id');
    const to = await run(['restore', host, '--from-offsite', '--to', 'yesterday']);
    expect(to.status).toBe(2);
    expect(to.output).toContain('--to yesterday: give a time such as 2026-12-07T21:15:00Z');
    const toFile = await run(['restore', host, 'dump.sql.gz', '--to', '2026-12-07T21:15:00Z']);
    expect(toFile.status).toBe(2);
    expect(toFile.output).toContain('--to goes with --from-offsite');
    const none = await run(['restore', host]);
    expect(none.status).toBe(2);
    expect(none.output).toContain('give exactly one backup file (or --from-offsite)');
  });

  it('rollback takes one release; prune a whole --keep', async () => {
    const two = await run(['rollback', host, 'a', 'b']);
    expect(two.status).toBe(2);
    expect(two.output).toContain('unexpected b');
    const keep = await run(['prune', host, '--keep', '0']);
    expect(keep.status).toBe(2);
    expect(keep.output).toContain('--keep must be a whole number of at least 1, not "0"');
  });
});

describe('scripts/vps: off-site backup settings, checked before the server is touched', () => {
  const files: Record<string, string> = { '/here/pw': 'correct horse battery\n', '/here/key': KEY, '/here/empty': '' };
  const readFile = (name: string) => {
    if (files[name] === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return files[name];
  };
  const env = { BACKUP_PASSWORD_FILE: '/here/pw', BACKUP_SSH_KEY_FILE: '/here/key' };
  const sftp = { BACKUP_REPOSITORY: 'sftp:backup@192.0.2.9:/srv/backups/site' };

  it('none without a target; with one, the secrets from their files here in place of the names', () => {
    expect(backupSettings({ RATE_LIMIT_READS: '100r/s' }, env, readFile)).toBeUndefined();
    expect(backupSettings({ ...sftp, BACKUP_SCHEDULE: '6h' }, env, readFile)).toEqual({
      ...sftp,
      BACKUP_SCHEDULE: '6h',
      BACKUP_PASSWORD: 'correct horse battery',
      BACKUP_SSH_KEY: KEY.trim(),
    });
    // A REST server needs no SSH key.
    expect(backupSettings({ BACKUP_REPOSITORY: 'rest:https://backups.example.com/site' }, env, readFile)).toMatchObject(
      {
        BACKUP_PASSWORD: 'correct horse battery',
      },
    );
  });

  it('refuses what is wrong, naming the setting', () => {
    const refused =
      (extra: Record<string, string>, e: Record<string, string> = env) =>
      () =>
        backupSettings(extra, e, readFile);
    expect(refused({ BACKUP_REPOSITORY: '/var/backups' })).toThrow(
      'BACKUP_REPOSITORY=/var/backups: give a repository off the server',
    );
    expect(refused({ BACKUP_SCHEDULE: '1d' })).toThrow('BACKUP_SCHEDULE: set BACKUP_REPOSITORY too');
    expect(refused({ ...sftp, BACKUP_SCHEDULE: 'daily' })).toThrow(
      'BACKUP_SCHEDULE=daily: give an interval such as 30s, 15m, 6h or 1d',
    );
    expect(refused({ ...sftp, BACKUP_BINLOG_INTERVAL: '60' })).toThrow(
      'BACKUP_BINLOG_INTERVAL=60: give an interval such as 30s, 15m, 6h or 1d',
    );
    expect(refused({ ...sftp, BACKUP_KEEP_DAILY: 'seven' })).toThrow('BACKUP_KEEP_DAILY=seven: give a whole number');
    expect(refused(sftp, { BACKUP_PASSWORD_FILE: '/here/pw' })).toThrow(
      'BACKUP_SSH_KEY_FILE: BACKUP_REPOSITORY is set, so give the file',
    );
    expect(refused(sftp, { ...env, BACKUP_PASSWORD_FILE: '/here/missing' })).toThrow(
      'BACKUP_PASSWORD_FILE=/here/missing: cannot read it (ENOENT)',
    );
    expect(refused(sftp, { ...env, BACKUP_PASSWORD_FILE: '/here/empty' })).toThrow(
      'BACKUP_PASSWORD_FILE=/here/empty: the file is empty',
    );
    expect(refused({ ...sftp, BACKUP_PASSWORD: 'x' })).toThrow('BACKUP_PASSWORD: a secret is not a stack setting');
    expect(refused({ BACKUP_REPOSITORY: 's3:https://s3.example.com/bucket' })).toThrow('an s3: repository needs both');
    files['/here/quoted'] = 'pass"word';
    expect(refused(sftp, { ...env, BACKUP_PASSWORD_FILE: '/here/quoted' })).toThrow(
      'BACKUP_PASSWORD (from BACKUP_PASSWORD_FILE): BACKUP_PASSWORD: quotes, backslashes and $ are not allowed',
    );
  });

  it('reads a schedule as the backup service does', () => {
    expect(intervalSeconds('30s')).toBe(30);
    expect(intervalSeconds('15m')).toBe(900);
    expect(intervalSeconds('6h')).toBe(21_600);
    expect(intervalSeconds('1d')).toBe(86_400);
    for (const bad of ['0s', '1.5h', '1w', '', 'h'])
      expect(() => intervalSeconds(bad), bad).toThrow('give an interval such as 30s');
    expect(() => intervalSeconds('1x', 'BACKUP_BINLOG_INTERVAL')).toThrow(
      'BACKUP_BINLOG_INTERVAL=1x: give an interval',
    );
  });

  it('restore --to: a time to the second, in UTC or with an offset, as the replay takes it', () => {
    expect(restoreTime('2026-12-07T21:15:57Z')).toBe('2026-12-07 21:15:57');
    expect(restoreTime('2026-12-07 21:15:57')).toBe('2026-12-07 21:15:57');
    expect(restoreTime('2026-12-07T22:15:57+01:00')).toBe('2026-12-07 21:15:57');
    for (const bad of ['2026-02-30T00:00:00Z', '2026-12-07T25:00:00Z', '2026-12-07T21:15Z', 'yesterday', ''])
      expect(() => restoreTime(bad), bad).toThrow('give a time such as 2026-12-07T21:15:00Z');
  });

  it('the backup service runs only where a target is named', () => {
    const images = imagesOf({ IMAGE_TAG: 't' });
    const site = { domain: 'www.example.com', serverIpv4: '203.0.113.7' };
    expect(envSettings(site, images)).toContain(
      'COMPOSE_FILE=docker-compose.yml:scripts/tool/vps/host-network.compose.yml\n',
    );
    expect(envSettings({ ...site, extra: { ...sftp } }, images)).toContain(
      'COMPOSE_FILE=docker-compose.yml:scripts/tool/vps/host-network.compose.yml:scripts/tool/vps/backup.compose.yml\n',
    );
  });

  it('status: the last good backup with its age and size, the snapshots, the last error', () => {
    const status: BackupStatus = {
      schedule: '1d',
      interval_seconds: 86_400,
      repository: 'sftp:backup@192.0.2.9:/srv/backups/site',
      last_attempt: '2026-12-07T11:00:00Z',
      last_success: '2026-12-07T09:30:00Z',
      last_snapshot: '1a2b3c4d',
      last_size: 3_500_000,
      snapshots: 9,
      last_error: 'wrong repository password (BACKUP_PASSWORD) for sftp:backup@192.0.2.9:/srv/backups/site',
    };
    expect(formatStatus('root@192.0.2.1', status, new Date('2026-12-07T12:00:00Z'))).toBe(
      [
        'root@192.0.2.1: off-site backups to sftp:backup@192.0.2.9:/srv/backups/site every 1d',
        '  last good backup: 2026-12-07T09:30:00Z (2.5 h ago), snapshot 1a2b3c4d, 3.3 MiB',
        '  snapshots in the repository: 9',
        '  last error: wrong repository password (BACKUP_PASSWORD) for sftp:backup@192.0.2.9:/srv/backups/site (at 2026-12-07T11:00:00Z)',
      ].join('\n'),
    );
    expect(formatStatus('h', { schedule: '30s', repository: 'r', last_error: null }, new Date())).toBe(
      'h: off-site backups to r every 30s\n  last good backup: none yet\n  last error: none',
    );
    const binlog: BackupStatus = {
      schedule: '1d',
      repository: 'r',
      binlog_interval: '1m',
      binlog_last_attempt: '2026-12-07T11:59:50Z',
      binlog_last_success: '2026-12-07T11:59:15Z',
      binlog_last_file: 'binlog.000042',
      binlog_last_error: 'the database refused FLUSH BINARY LOGS: Access denied',
    };
    expect(formatStatus('h', binlog, new Date('2026-12-07T12:00:00Z'))).toContain(
      '  binary log shipped every 1m: last 2026-12-07T11:59:15Z (45 s ago), up to binlog.000042\n  binary log error: the database refused FLUSH BINARY LOGS: Access denied (at 2026-12-07T11:59:50Z)\n',
    );
  });
});
