// Scheduled off-site backups on the simulated VPS (test/vps/vps-env.ts), with a second host
// as the SFTP target: the schedule fires by itself, retention prunes, status reports the
// last good backup and a wrong password, the monitor raises the backup-age alert, the binary
// log is shipped between the backups; then the disaster drill: posts written until the
// server is lost, a brand-new one set up from zero and restored from the off-site copy alone
// (the last backup, then the binary log replayed onto it), with every post acknowledged more
// than a minute before the loss; then restored again to a point in time.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { request } from '../../scripts/tool/core/http.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { asRoot, sshOk } from '../../scripts/tool/remote/ssh.js';
import type { BackupStatus } from '../../scripts/tool/vps/backups.js';
import { SITE_DOMAIN, buildAcmeEnv, createNetwork, designZone, type TestNetwork } from '../https/acme-env.js';
import { writeResult } from '../support/results.js';
import {
  buildVpsImage,
  makeKeys,
  removeNetwork,
  siteSetup,
  startAcme,
  startSshHost,
  startVps,
  vpsCommand,
  writeFile,
  type Vps,
} from './vps-env.js';

const TRANSCRIPT = path.join(REPO_ROOT, 'test/results/vps-backups-commands.txt');
/** Short enough to see several runs in a test; the alert's limit is twice it. */
const SCHEDULE_SECONDS = 20;
/** The binary log's shipping interval. */
const BINLOG_SECONDS = 20;
/**
 * What the drill may lose: one shipping interval, plus 40 s for the run that ships it (a
 * rotation and a restic snapshot over SFTP, a few seconds here; more on a loaded machine).
 */
const MAY_LOSE_MS = 60_000;
/** How long the drill writes before the server is lost: long enough that some posts must come back from the binary log alone. */
const DRILL_WRITE_MS = 100_000;

let network: TestNetwork;
let vps: Vps;
let offsite: Awaited<ReturnType<typeof startSshHost>>;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let root: string;
let env: NodeJS.ProcessEnv;
/** The deployment file's vps section, backups on. */
let section: Record<string, unknown>;
const figures: string[] = [];

const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  vpsCommand(args, { ...env, ...extra }, { transcript: TRANSCRIPT });
const onVps = (command: string) => sshOk(vps.host, asRoot(vps.host, command));
const inStack = (command: string) => onVps(`cd /opt/webstack && ${command}`);
const api = (urlPath: string, options = {}) =>
  request({ port: 443, ca: root, address: vps.address }, urlPath, { host: SITE_DOMAIN, ...options });
const backupState = async () =>
  JSON.parse(await inStack('docker compose exec -T backup cat /state/status.json')) as BackupStatus;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Writes `count` posts over HTTPS; the ids the site acknowledged (201). */
async function writePosts(count: number, label: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await api('/api/posts', { method: 'POST', body: { author: 'backups', body: `${label} ${i}` } });
    expect(answer.status).toBe(201);
    ids.push(answer.json<{ id: number }>().id);
  }
  return ids;
}

/**
 * The backup state once a run that started after `after` has succeeded: a backup, or with
 * `binlog_` the binary log's shipping.
 */
const runAfter = (after: Date, prefix: '' | 'binlog_' = '', timeoutMs = 150_000) =>
  waitFor(
    `a ${prefix ? 'binary log shipping' : 'backup'} started after ${after.toISOString()}`,
    async () => {
      const state = await backupState();
      const fields = state as Record<string, string | null | undefined>;
      const attempt = Date.parse(fields[`${prefix}last_attempt`] ?? '') || 0;
      const success = Date.parse(fields[`${prefix}last_success`] ?? '') || 0;
      const error = fields[`${prefix}last_error`];
      // Times are whole seconds: a start in the same second as `after` may have missed it.
      if (attempt >= after.getTime() + 1000 && error) throw new Error(`it failed: ${error}`);
      return !error && success >= attempt && attempt >= after.getTime() + 1000 ? state : false;
    },
    { timeoutMs, intervalMs: 2_000 },
  );
const backupAfter = (after: Date) => runAfter(after);

/** Every post id the site lists, page by page. */
async function allPostIds(): Promise<Set<number>> {
  const ids = new Set<number>();
  let before: number | null | undefined;
  do {
    const page = (await api(`/api/posts?limit=100${before ? `&before=${before}` : ''}`)).json<{
      posts: Array<{ id: number }>;
      next: number | null;
    }>();
    for (const post of page.posts) ids.add(post.id);
    before = page.next;
  } while (before);
  return ids;
}

beforeAll(async () => {
  writeFileSync(TRANSCRIPT, '');
  await Promise.all([buildAcmeEnv(), buildVpsImage()]);
  network = await createNetwork('bkvps-net');
  keys = await makeKeys();
  // The backups' own key, and the target's address beside the network's fixed ones.
  const backupKey = path.join(keys.dir, 'backup_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'webstack-backups', '-f', backupKey]);
  const offsiteAddress = network.stack.replace(/\.\d+$/, '.60');
  const [answered] = await Promise.all([
    startAcme(network, designZone(network.stack)),
    (async () => {
      vps = await startVps(network, `${network.name}-vps`, network.stack, keys);
    })(),
    (async () => {
      offsite = await startSshHost(network, `${network.name}-offsite`, offsiteAddress, {
        identity: backupKey,
        publicKey: readFileSync(`${backupKey}.pub`, 'utf8').trim(),
        knownHosts: path.join(keys.dir, 'offsite_known_hosts'),
      });
    })(),
  ]);
  root = answered.root;
  const site = siteSetup(network, keys, vps.address, answered);
  section = {
    ...site.section,
    settings: {
      ...(site.section.settings as Record<string, string>),
      BACKUP_REPOSITORY: `sftp:root@${offsiteAddress}:/srv/backups/webstack`,
      BACKUP_SCHEDULE: `${SCHEDULE_SECONDS}s`,
      BACKUP_BINLOG_INTERVAL: `${BINLOG_SECONDS}s`,
      // Only the newest two, so that pruning shows within a minute.
      BACKUP_KEEP_LAST: '2',
      BACKUP_KEEP_DAILY: '0',
      BACKUP_KEEP_WEEKLY: '0',
      BACKUP_KEEP_MONTHLY: '0',
      // The backup-age alert the moment its condition holds.
      ALERT_RAISE_AFTER_SECONDS: '0',
    },
  };
  env = {
    ...site.env,
    DEPLOY_FILE: writeFile(keys.dir, 'deploy.yml', stringify({ vps: section })),
    BACKUP_PASSWORD_FILE: writeFile(keys.dir, 'backup-password', 'the repository password of the test\n'),
    BACKUP_SSH_KEY_FILE: backupKey,
  };
}, 900_000);

afterAll(async () => {
  writeResult('vps-backups.txt', figures.join('\n'));
  await vps?.remove();
  await offsite?.remove();
  if (network) await removeNetwork(network, ['dns', 'pebble']);
});

describe('scheduled off-site backups', { timeout: 900_000 }, () => {
  let acknowledged: number[] = [];

  it('setup with a target runs the backups on their own schedule', async () => {
    const result = await run(['setup']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`webstack/backup:${process.env.IMAGE_TAG}`);
    figures.push(`setup with backups, from zero: ${seconds(result.ms)}`);
    acknowledged = await writePosts(3, 'before the first backup');
    const written = new Date();
    const state = await backupAfter(written);
    expect(state.last_snapshot).toMatch(/^[0-9a-f]{8}$/);
    expect(state.interval_seconds).toBe(SCHEDULE_SECONDS);
    // The binary log goes off the server on its own schedule too, the posts' writes in it.
    const shipped = await runAfter(written, 'binlog_');
    expect(shipped.binlog_interval).toBe(`${BINLOG_SECONDS}s`);
    expect(shipped.binlog_last_file).toMatch(/^binlog\.\d{6}$/);
    // The repository is on the other host, encrypted: no post's text in it.
    const stored = await sshOk(
      offsite.host,
      'ls /srv/backups/webstack && grep -rl "before the first backup" /srv/backups/webstack || true',
    );
    expect(stored).toContain('snapshots');
    expect(stored).not.toMatch(/^\/srv\/backups\/webstack\/data/m);
  });

  it('backup status: the last good backup, its age and size, the snapshots', async () => {
    const result = await run(['backup', 'status']);
    expect(result.code, result.output).toBe(0);
    const line = /last good backup: \S+ \((\d+) s ago\), snapshot [0-9a-f]{8}, ([\d.]+) KiB/.exec(result.output);
    expect(line, result.output).not.toBeNull();
    expect(Number(line![1])).toBeLessThan(3 * SCHEDULE_SECONDS);
    expect(Number(line![2])).toBeGreaterThan(1);
    expect(result.output).toContain('last error: none');
    expect(result.output).toMatch(/snapshots in the repository: [12]\n/);
  });

  it('backup now prints its snapshot; retention keeps the newest two', async () => {
    const seen = new Set([(await backupState()).last_snapshot]);
    for (let i = 0; i < 2; i++) {
      const result = await run(['backup', 'now']);
      expect(result.code, result.output).toBe(0);
      const snapshot = /^snapshot ([0-9a-f]{8}) of webstack/m.exec(result.output)?.[1];
      expect(snapshot, result.output).toBeDefined();
      seen.add(snapshot);
    }
    expect(seen.size).toBe(3);
    expect((await backupState()).snapshots).toBe(2);
    const listed = await run(['backup', 'status']);
    expect(listed.output).toContain('snapshots in the repository: 2');
  });

  it('a wrong password: an error in status, then the backup-age alert', async () => {
    const password = (await inStack("sed -n 's/^BACKUP_PASSWORD=//p' .env")).trim();
    const backupWith = (value: string) =>
      inStack(`sed -i 's/^BACKUP_PASSWORD=.*/BACKUP_PASSWORD=${value}/' .env && docker compose up -d backup 2>&1`);
    const ageAlert = async () => {
      const active = await inStack('docker compose exec -T monitor cat /srv/state/alerts.json').catch(() => '[]');
      return (JSON.parse(active) as Array<{ key: string; text: string }>).find((a) => a.key === 'backup:age') ?? false;
    };
    // A backup that just succeeded and no backup-age alert left on: a loaded machine can hold
    // the 20 s schedule's backups back past twice it, which raises the alert without an error,
    // and an alert keeps the text it started with.
    await backupAfter(new Date());
    await waitFor('no backup-age alert', async () => !(await ageAlert()), { timeoutMs: 120_000, intervalMs: 2_000 });
    await backupWith('not-the-password');
    try {
      const now = await run(['backup', 'now']);
      expect(now.code).toBe(1);
      expect(now.output).toContain('wrong repository password (BACKUP_PASSWORD)');
      const status = await run(['backup', 'status']);
      expect(status.output).toMatch(/last error: wrong repository password \(BACKUP_PASSWORD\) for sftp:/);
      // Older than twice the schedule: the monitor's alert is on (and kept in its state file).
      const alert = await waitFor('the backup-age alert', ageAlert, { timeoutMs: 120_000, intervalMs: 2_000 });
      expect(alert.text).toContain('last error: wrong repository password');
    } finally {
      await backupWith(password);
    }
    const state = await backupAfter(new Date());
    expect(state.last_error).toBeNull();
  });

  it('a setup without a target removes the backup service and keeps the site; the next with one starts it again', async () => {
    const backupContainers = (filter = '') =>
      onVps(`docker ps -aq --filter label=com.docker.compose.service=backup ${filter}`);
    const settings = Object.fromEntries(
      Object.entries(section.settings as Record<string, string>).filter(([name]) => !name.startsWith('BACKUP_')),
    );
    const withoutBackups = writeFile(keys.dir, 'deploy-no-backups.yml', stringify({ vps: { ...section, settings } }));
    const off = await run(['setup'], { DEPLOY_FILE: withoutBackups });
    expect(off.code, off.output).toBe(0);
    expect(off.output).toContain('removing backup on');
    expect(await backupContainers()).toBe('');
    expect((await api('/api/health/ready')).status).toBe(200);

    // Back on with a daily schedule: the drill's posts then come back from the binary log alone.
    const daily = { ...section, settings: { ...(section.settings as Record<string, string>), BACKUP_SCHEDULE: '1d' } };
    const on = await run(['setup'], {
      DEPLOY_FILE: writeFile(keys.dir, 'deploy-daily.yml', stringify({ vps: daily })),
    });
    expect(on.code, on.output).toBe(0);
    expect(on.output).toMatch(/replacing or starting .*backup/);
    expect(await backupContainers('--filter status=running')).not.toBe('');
    const state = await runAfter(new Date(), 'binlog_');
    expect(state.schedule).toBe('1d');
    expect(state.last_error).toBeNull();
  });

  it('the disaster drill: a brand-new server restored from the off-site copy alone, losing at most the last minute', async () => {
    const { host: oldHost } = await backupState();
    // Posts until the moment the server is lost, each with the time the site acknowledged it.
    const drill: Array<{ id: number; sent: number; at: number }> = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const sent = Date.now();
        const answer = await api('/api/posts', {
          method: 'POST',
          body: { author: 'backups', body: `until the loss ${i}` },
        }).catch(() => undefined);
        if (answer?.status === 201) drill.push({ id: answer.json<{ id: number }>().id, sent, at: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, DRILL_WRITE_MS));
    // The server is lost: its container and its engine's volume (the database) are gone.
    const lost = Date.now();
    await vps.remove();
    writing = false;
    await writer;
    const started = performance.now();
    // The new server has a new host key at the same address: a known_hosts file of its own.
    const fresh = { ...keys, knownHosts: path.join(keys.dir, 'known_hosts_new_server') };
    vps = await startVps(network, `${network.name}-vps2`, network.stack, fresh);
    const newEnv = { VPS_KNOWN_HOSTS: fresh.knownHosts };
    const setup = await run(['setup'], newEnv);
    expect(setup.code, setup.output).toBe(0);
    const setupMs = performance.now() - started;
    // Until it restores, the new server backs nothing up over the old one's snapshots.
    const waiting = await run(['backup', 'status'], newEnv);
    expect(waiting.output).toMatch(/none yet|holds backups of another server/);
    const restored = await run(['restore', '--from-offsite', '--yes'], newEnv);
    expect(restored.code, restored.output).toBe(0);
    // The newest dump, older than the drill's posts: they come back from the binary log alone.
    const snapshot = /restored snapshot ([0-9a-f]{8}) of (\S+) /.exec(restored.output);
    expect(snapshot, restored.output).not.toBeNull();
    expect(Date.parse(snapshot![2]!)).toBeLessThan(drill[0]!.at);
    expect(restored.output).toContain('replayed the binary log');
    const replayedTo = /up to the transaction committed at ([\d-]+ [\d:]+) UTC/.exec(restored.output)?.[1];
    expect(replayedTo, restored.output).toBeDefined();
    const posts = await allPostIds();
    const backMs = performance.now() - started;
    expect(acknowledged.filter((id) => !posts.has(id))).toEqual([]);
    const mustHave = drill.filter((post) => post.at < lost - MAY_LOSE_MS);
    expect(mustHave.length).toBeGreaterThan(0);
    expect(mustHave.filter((post) => !posts.has(post.id))).toEqual([]);
    const missing = drill.filter((post) => !posts.has(post.id));
    const lostSeconds = missing.length === 0 ? 0 : (lost - missing[0]!.at) / 1000;
    figures.push(
      `disaster drill: new server to the site back with its posts: ${seconds(backMs)} (setup from zero ${seconds(setupMs)}, restore ${seconds(restored.ms)})`,
      `posts restored: ${drill.length - missing.length} of ${drill.length} acknowledged posts restored (written over ${seconds(DRILL_WRITE_MS)} until the loss, binary log every ${BINLOG_SECONDS} s); writes lost: the last ${lostSeconds.toFixed(1)} s (snapshot ${snapshot![1]} from before the drill, binary log replayed up to ${replayedTo} UTC); and ${acknowledged.length} of ${acknowledged.length} written before the backups`,
    );
    // Back to a point in time, a whole second a third into the drill: the same dump, the binary
    // log replayed up to it (a post committed in that second is on either side).
    const point = new Date(Math.ceil(drill[Math.floor(drill.length / 3)]!.at / 1000) * 1000);
    const to = point.toISOString().replace('.000Z', 'Z');
    const back = await run(['restore', '--from-offsite', '--yes', '--to', to], newEnv);
    expect(back.code, back.output).toBe(0);
    const atPoint = await allPostIds();
    expect(drill.filter((post) => post.at < point.getTime() && !atPoint.has(post.id))).toEqual([]);
    expect(drill.filter((post) => post.sent >= point.getTime() && atPoint.has(post.id))).toEqual([]);
    figures.push(
      `restore --to ${to}: ${drill.filter((post) => atPoint.has(post.id)).length} of the drill's posts, every one acknowledged before it and none sent after it (${seconds(back.ms)})`,
    );
    // The new server now backs up into the same repository as the old one did.
    const resumed = await backupAfter(new Date());
    expect(resumed.host).toBe(oldHost);
  });
});
