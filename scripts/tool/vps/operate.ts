// scripts/vps deploy, rollback, releases, prune, backup, restore, logs, status, ssh, exec: the
// same code as this machine's scripts/deploy, rollback, backup and restore, run against the
// server's engine (an SSH-forwarded socket) with compose run on the server, where its .env lives.
import { spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { stripVTControlCharacters } from 'node:util';
import { servedCertificate } from '../cert/status.js';
import { appMigrations } from '../core/app.js';
import { ensureBaseImages } from '../core/base-images.js';
import { compose } from '../core/compose.js';
import { docker, serviceContainer } from '../core/docker.js';
import { imagesOf } from '../core/env.js';
import { REPO_ROOT } from '../core/paths.js';
import type { Log } from '../core/steps.js';
import { backup, LOAD, restore, type BackupResult, type RestoreOptions } from '../local/backup.js';
import { deploy, rollback, type DeployResult } from '../local/deploy.js';
import { previousTag, releaseTag, splitRef } from '../local/release.js';
import { shipImages } from '../remote/ship.js';
import { asRoot, hostLabel, shellQuote, sshArgs, sshOk, sshRun, type Host } from '../remote/ssh.js';
import { BACKUP_SERVICE, DURATION_UNITS, formatStatus, type BackupStatus } from './backups.js';
import { chooseRelease, keepFrom, keptReleases, liveAs, readReleases, shortId, type Release } from './releases.js';
import { onServerEngine, PROJECT, recordEvent, remoteCompose, shipFiles, STACK_DIR, withServerLock } from './server.js';
import { buildEnv, serviceStates } from './setup.js';

export interface VpsOptions {
  host: Host;
  /** Environment for building here (IMAGE_TAG, base images, REGISTRY). */
  env: NodeJS.ProcessEnv;
  log?: Log;
}

/**
 * Builds the app here (APP_DIR's, else the sample's; or takes APP_IMAGE or --image as it is),
 * ships it and its migrations, and switches the server to it without downtime (the
 * migrations run first, as scripts/deploy runs them).
 */
export async function vpsDeploy(
  options: VpsOptions & { image?: string; registry?: string; compress?: boolean; readyTimeoutMs?: number },
): Promise<DeployResult> {
  const { host, env, log = console.log } = options;
  const images = imagesOf(env);
  const migrations = appMigrations(env, REPO_ROOT);
  let image = options.image ?? (env.APP_IMAGE || undefined);
  if (!image) {
    const release = releaseTag(images.tag, new Date());
    image = `webstack/app:${release}`;
    log('making sure the base images are on this machine, as scripts/up does');
    const baseEnv = { ...env, ...(await ensureBaseImages(env, (line) => log(`  ${line}`))) };
    log(`building ${image} on this machine`);
    await compose(`webstack-vps-build-${images.tag}`, ['build', 'app'], buildEnv({ ...baseEnv, IMAGE_TAG: release }));
  }
  const ref = image;
  const shipped = await shipImages(host, [ref], { registry: options.registry, compress: options.compress, log });
  log(
    `${ref} ${shipped.sent.length ? `shipped to ${hostLabel(host)} in ${(shipped.ms / 1000).toFixed(1)} s ${options.registry ? `through ${options.registry}` : `(${(shipped.bytes / 1024 / 1024).toFixed(0)} MiB)`}` : `already on ${hostLabel(host)}`}`,
  );
  return withServerLock(host, 'deploy', async () => {
    // The release's migrations go with it: the deploy runs the server's migrate service on them.
    for (const line of (await shipFiles(host, [], migrations)).split('\n').filter(Boolean)) log(`  ${line}`);
    return onServerEngine(host, async () => {
      const result = await deploy({
        project: PROJECT,
        env: {},
        image: ref,
        compose: remoteCompose(host),
        readyTimeoutMs: options.readyTimeoutMs,
        log,
      });
      await recordEvent(host, `deploy: ${liveAs(ref, result.live, result.liveRef)}`);
      // The release is live whatever happens here: a failed clean-up is said, not thrown.
      await pruneReleases(host, { log }).catch((err: Error) =>
        log(`the release is live, but removing old releases failed: ${err.message}`),
      );
      return result;
    });
  });
}

/** What the server holds: its releases, most recently live first, and the one a rollback would use. */
interface ServerReleases {
  releases: Release[];
  live: string;
  previous?: string;
  /** The repository the live app's image is named in (webstack/app): each release is tagged there. */
  repo: string;
}

/** The server's releases: its record of them, the images it has, the app's live image (on the server's engine). */
async function serverReleases(host: Host): Promise<ServerReleases> {
  const app = await (await serviceContainer(PROJECT, 'app')).inspect();
  const { repo, tag } = splitRef(app.Config.Image);
  const [record, images, previous] = await Promise.all([
    sshOk(host, asRoot(host, `cat ${STACK_DIR}/releases.log 2>/dev/null || true`)),
    docker.listImages(),
    docker
      .getImage(`${repo}:${previousTag(tag)}`)
      .inspect()
      .then((image) => image.Id)
      .catch(() => undefined),
  ]);
  const present = images.map((image) => image.Id);
  return { releases: readReleases(record, present, app.Image, app.Config.Image), live: app.Image, previous, repo };
}

/** The releases on the server, most recently live first (scripts/vps releases). */
export function vpsReleases(host: Host): Promise<Release[]> {
  return onServerEngine(host, async () => (await serverReleases(host)).releases);
}

/**
 * Switches the server to `release` (a name or id scripts/vps releases shows), by default the
 * one before the live one, the same zero-downtime, health-gated way as a deploy. A release
 * the server does not have is refused before anything changes.
 */
export async function vpsRollback(options: VpsOptions & { release?: string }): Promise<DeployResult> {
  const { host, release, log = console.log } = options;
  return withServerLock(host, 'rollback', () =>
    onServerEngine(host, async () => {
      let result: DeployResult;
      let name: string;
      if (release === undefined) {
        result = await rollback({ project: PROJECT, env: {}, compose: remoteCompose(host), log });
        name = (await serverReleases(host)).releases.find((r) => r.id === shortId(result.live))?.name ?? result.liveRef;
      } else {
        const { releases, live } = await serverReleases(host);
        const chosen = chooseRelease(releases, release, hostLabel(host));
        if (chosen.id === shortId(live))
          throw new Error(`${chosen.name} (${chosen.id}) is live already; nothing was changed`);
        log(`rolling back to ${chosen.name} (${chosen.id})`);
        result = await deploy({ project: PROJECT, env: {}, image: chosen.id, compose: remoteCompose(host), log });
        name = chosen.name;
      }
      await recordEvent(host, `rollback: ${liveAs(name, result.live, result.liveRef)}`);
      return result;
    }),
  );
}

export interface PruneResult {
  removed: Release[];
  /** Other app images (never live, or no longer recorded) removed, by name. */
  others: string[];
  /** Dangling images removed. */
  dangling: number;
  freedBytes: number;
}

/** Bytes of image layers and build cache on the engine. */
async function storedBytes(): Promise<number> {
  const df = (await docker.df()) as { LayersSize?: number; BuildCache?: Array<{ Size?: number }> };
  return (df.LayersSize ?? 0) + (df.BuildCache ?? []).reduce((sum, cache) => sum + (cache.Size ?? 0), 0);
}

/**
 * Keeps the `keep` most recently live releases (the server's KEEP_RELEASES, else the default),
 * the live one and the one a rollback would use whatever `keep` says; removes every other
 * release and app image, dangling images and the build cache. Runs on the server's engine.
 */
async function pruneReleases(host: Host, options: { keep?: number; log: Log }): Promise<PruneResult> {
  const { log } = options;
  const keep = options.keep ?? keepFrom(await sshOk(host, asRoot(host, `cat ${STACK_DIR}/.env`)));
  const before = await storedBytes();
  const { releases, live, previous, repo } = await serverReleases(host);
  const kept = keptReleases(releases, keep, [live, previous]);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  log(
    `pruning ${hostLabel(host)}: keeping the ${keep} most recently live ${keep === 1 ? 'release' : 'releases'}, and the live and the previous one always`,
  );
  const known = new Set(releases.map((r) => r.id));
  const removed: Release[] = [];
  const others: string[] = [];
  for (const image of await docker.listImages()) {
    const id = shortId(image.Id);
    const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    if (kept.has(id) || !(known.has(id) || tags.some((t) => splitRef(t).repo === repo))) continue;
    try {
      // By name, never forced: the engine refuses to remove an image a container uses.
      for (const name of tags) await docker.getImage(name).remove();
      if (tags.length === 0) await docker.getImage(image.Id).remove();
    } catch (err) {
      log(`  kept ${tags.join(', ') || id}: ${(err as Error).message}`);
      continue;
    }
    const release = releases.find((r) => r.id === id);
    if (release) removed.push(release);
    else others.push(tags.join(', ') || id);
    log(`  removed ${release ? `release ${release.name} (${id})` : `app image ${tags.join(', ') || id}`}`);
  }
  // Dangling images one by one, not `image prune`: a kept release can be nameless (setup's
  // first is named only by the live tag, which moves on to the next release).
  let dangling = 0;
  for (const image of await docker.listImages({ filters: { dangling: ['true'] } })) {
    if (kept.has(shortId(image.Id))) continue;
    try {
      await docker.getImage(image.Id).remove();
      dangling++;
    } catch (err) {
      log(`  kept ${shortId(image.Id)}: ${(err as Error).message}`);
    }
  }
  await docker.pruneBuilder();
  const after = await storedBytes();
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  const freedBytes = Math.max(0, before - after);
  log(
    `kept ${count(kept.size, 'release')}; removed ${count(removed.length, 'release')}, ${count(others.length, 'other app image')}, ` +
      `${count(dangling, 'dangling image')} and the build cache; ${mib(freedBytes)} MiB freed (images and build cache: ${mib(before)} → ${mib(after)} MiB)`,
  );
  return { removed, others, dangling, freedBytes };
}

/** scripts/vps prune: what a deploy removes after itself, on demand; `keep` overrides KEEP_RELEASES once. */
export function vpsPrune(host: Host, options: { keep?: number; log?: Log } = {}): Promise<PruneResult> {
  return withServerLock(host, 'prune', () =>
    onServerEngine(host, () => pruneReleases(host, { keep: options.keep, log: options.log ?? console.log })),
  );
}

/** A consistent dump of the server's database, streamed to a file here. */
export function vpsBackup(options: VpsOptions & { dir: string; keep: number }): Promise<BackupResult> {
  return onServerEngine(options.host, () =>
    backup({ project: PROJECT, env: {}, dir: options.dir, keep: options.keep, log: options.log }),
  );
}

/** Checks a backup file here, then replaces the server's database with it. */
export function vpsRestore(options: VpsOptions & Pick<RestoreOptions, 'file' | 'yes' | 'confirm'>) {
  const { host } = options;
  return withServerLock(host, 'restore', () =>
    onServerEngine(host, () =>
      restore({
        project: PROJECT,
        env: {},
        file: options.file,
        yes: options.yes,
        confirm: options.confirm,
        log: options.log,
      }),
    ),
  );
}

/**
 * Runs the backup service's program on the server (db/backup/backup.sh: now, restore) or
 * reads its status file; refuses, saying how to turn them on, where no target is set.
 */
async function inBackupService(host: Host, args: string[]): Promise<string> {
  const run = ['docker', 'compose', 'exec', '-T', BACKUP_SERVICE, ...args].map(shellQuote).join(' ');
  const result = await sshRun(
    host,
    asRoot(
      host,
      `cd ${STACK_DIR} && if ! docker compose config --services 2>/dev/null | grep -qx ${BACKUP_SERVICE}; then echo 'no-backups' >&2; exit 3; fi; ${run}`,
    ),
  );
  if (result.exitCode === 0) return result.stdout;
  if (result.exitCode === 3 && result.stderr.trim() === 'no-backups')
    throw new Error(
      `${hostLabel(host)} has no off-site backups: set BACKUP_REPOSITORY (and BACKUP_PASSWORD_FILE, BACKUP_SSH_KEY_FILE here) and run scripts/vps setup; see docs/backups.md`,
    );
  if (result.exitCode === 255) await sshOk(host, 'true');
  throw new Error(`${(result.stderr || result.stdout).trim()}`);
}

/** scripts/vps backup now: one off-site backup now; the service's line naming the snapshot. */
export async function vpsBackupNow(host: Host): Promise<string> {
  return (await inBackupService(host, ['webstack-backup', 'now'])).trim();
}

/** scripts/vps backup status: the backup service's record, read on the server. */
export async function vpsBackupStatus(host: Host): Promise<string> {
  const text = await inBackupService(host, ['cat', '/state/status.json']);
  return formatStatus(hostLabel(host), JSON.parse(text) as BackupStatus, new Date());
}

/** Where the backup service's restore leaves the binary log's changes as SQL (db/backup/backup.sh). */
const REPLAY_SQL = '/state/replay.sql';

/**
 * The binary log's changes the backup service's restore wrote, applied as the database's root
 * (replaying row events and their session settings takes more than the app's user may do),
 * then removed; false when there were none.
 */
async function applyReplay(host: Host): Promise<boolean> {
  const exec = (service: string, args: string[]) =>
    ['docker', 'compose', 'exec', '-T', service, ...args].map(shellQuote).join(' ');
  const apply = `${exec(BACKUP_SERVICE, ['cat', REPLAY_SQL])} | ${exec('db', LOAD)}`;
  const result = await sshRun(
    host,
    asRoot(
      host,
      `cd ${STACK_DIR} && if ! ${exec(BACKUP_SERVICE, ['test', '-s', REPLAY_SQL])}; then exit 4; fi; ` +
        `bash -o pipefail -c ${shellQuote(apply)}; code=$?; ${exec(BACKUP_SERVICE, ['rm', '-f', REPLAY_SQL])}; exit $code`,
    ),
  );
  if (result.exitCode === 4) return false;
  if (result.exitCode !== 0)
    throw new Error(
      `the dump is restored, but replaying the binary log onto it failed (the database is as of the dump): ${(result.stderr || result.stdout).trim()}`,
    );
  return true;
}

/**
 * scripts/vps restore --from-offsite: replaces the server's database with a snapshot of the
 * off-site repository (default the newest; with `to`, the newest taken before it), which
 * setup's backup settings name, then replays the binary log shipped since that snapshot (up
 * to `to`, UTC 'YYYY-MM-DD HH:MM:SS'); afterwards the server backs up into that repository
 * as the server the snapshot came from.
 */
export async function vpsRestoreOffsite(
  options: VpsOptions & { snapshot?: string; to?: string } & Pick<RestoreOptions, 'yes' | 'confirm'>,
): Promise<string> {
  const { host, snapshot = 'latest', to, log = console.log } = options;
  const point = to ? ` and the binary log up to ${to} UTC` : ' and the binary log since';
  const question = `This REPLACES every table of the database on ${hostLabel(host)} with the off-site snapshot ${snapshot}${point}. Continue?`;
  if (!options.yes) {
    if (!options.confirm) throw new Error('restore overwrites the database: confirm interactively or pass --yes');
    if (!(await options.confirm(question))) throw new Error('restore cancelled; nothing was changed');
  }
  return withServerLock(host, 'restore', async () => {
    log(`restoring the off-site snapshot ${snapshot}${point} into the database on ${hostLabel(host)}`);
    const said = (await inBackupService(host, ['webstack-backup', 'restore', snapshot, ...(to ? [to] : [])])).trim();
    log(said);
    if (await applyReplay(host)) log('replayed the binary log');
    return said;
  });
}

/** Runs ssh with this terminal (interactive commands, followed logs); resolves with its exit code. */
function attached(host: Host, command: string, tty: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(host, tty ? ['-t'] : []), command], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/**
 * Text without terminal escapes (colours, ESC[2K line clearing), line by line so that a
 * sequence split between two chunks is still removed whole; only the lines `keep` matches
 * when it is given.
 */
export function withoutEscapes(keep?: RegExp): Transform {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const kept = (lines: string[]) =>
    lines
      .map((line) => stripVTControlCharacters(line))
      .filter((line) => !keep || keep.test(line))
      .map((line) => `${line}\n`)
      .join('');
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop() ?? '';
      done(null, kept(lines));
    },
    flush(done) {
      const rest = partial + decoder.end();
      done(null, rest ? kept([rest]).slice(0, -1) : '');
    },
  });
}

export interface LogsOptions {
  service?: string;
  follow?: boolean;
  tail: number;
  /** Compose's --since: a duration in seconds (`600s`) or an ISO time; see sinceOption. */
  since?: string;
  /** Only the lines it matches. */
  grep?: RegExp;
}

/**
 * --since as a user gives it, a duration back from now (30s, 10m, 2h, 1d, 1h30m) or a time
 * (2026-12-07T17:00:00Z; without a zone, this machine's), as compose logs takes it: seconds
 * or a UTC time. A value it cannot read is an error naming the option.
 */
export function sinceOption(text: string): string {
  const given = text.trim();
  if (/^(\d+[smhd])+$/.test(given)) {
    let seconds = 0;
    for (const [, count, unit] of given.matchAll(/(\d+)([smhd])/g)) seconds += Number(count) * DURATION_UNITS[unit!]!;
    return `${seconds}s`;
  }
  const time = new Date(given);
  if (/^\d{4}-\d{2}-\d{2}/.test(given) && !Number.isNaN(time.getTime())) return time.toISOString();
  throw new Error(`--since ${text}: give a duration back from now (30s, 10m, 2h, 1d) or a time (2026-12-07T17:00:00Z)`);
}

/** --grep as a user gives it: a regular expression (JavaScript's), or an error naming the option. */
export function grepOption(text: string): RegExp {
  if (text === '') throw new Error('--grep: give a pattern, e.g. --grep " 5[0-9][0-9] "');
  try {
    return new RegExp(text);
  } catch (err) {
    throw new Error(`--grep ${text}: not a regular expression (${(err as Error).message})`, { cause: err });
  }
}

/** The compose logs command line run on the server; without colours unless they go to a terminal. */
export function logsCommand(options: LogsOptions, terminal: boolean): string {
  const args = ['docker', 'compose', 'logs', '--tail', String(options.tail), ...(options.follow ? ['--follow'] : [])];
  if (options.since) args.push('--since', options.since);
  if (!terminal) args.push('--no-color');
  if (options.service) args.push(options.service);
  return `cd ${STACK_DIR} && ${args.map(shellQuote).join(' ')}`;
}

/**
 * The stack's logs on the server (compose logs), optionally one service, optionally followed.
 * Into a terminal as they come; into a pipe or a file, or filtered by --grep, as plain text:
 * Compose 2.26 starts every line with ESC[2K even with --no-color and no terminal, so the
 * escapes are removed here (and a pattern never meets a colour code).
 */
export async function vpsLogs(host: Host, options: LogsOptions): Promise<number> {
  const terminal = process.stdout.isTTY === true && process.stderr.isTTY === true && !options.grep;
  const command = asRoot(host, logsCommand(options, process.stdout.isTTY === true && !options.grep));
  if (terminal) return attached(host, command, false);
  const child = spawn('ssh', [...sshArgs(host), command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  // Container stderr (nginx's error log, say) comes through compose's stderr.
  const to = (from: Readable, out: NodeJS.WriteStream) =>
    out.isTTY && !options.grep
      ? pipeline(from, out, { end: false })
      : pipeline(from, withoutEscapes(options.grep), out, { end: false });
  const [code] = await Promise.all([exited, to(child.stdout, process.stdout), to(child.stderr, process.stderr)]);
  return code;
}

/**
 * A shell on the server in the stack's folder, or one in a service's container. Interactive
 * from a terminal; from a pipe (`echo 'ls' | scripts/vps ssh HOST app`) it runs the piped
 * commands without terminals at either end, which compose exec would otherwise demand.
 */
export function vpsShell(host: Host, service?: string): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const command = service
    ? `cd ${STACK_DIR} && docker compose exec ${tty ? '' : '-T '}${shellQuote(service)} sh`
    : `cd ${STACK_DIR} && exec "\${SHELL:-/bin/sh}" -l`;
  return attached(host, asRoot(host, command), tty);
}

/**
 * Runs `command` (a program and its arguments) in the live app container, its output streamed
 * here; resolves with its exit code. With a terminal, one at both ends (an interactive
 * program works); from a pipe, stdin goes to the command.
 */
export function vpsExec(host: Host, command: string[]): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const line = ['docker', 'compose', 'exec', ...(tty ? [] : ['-T']), 'app', ...command].map(shellQuote).join(' ');
  return attached(host, asRoot(host, `cd ${STACK_DIR} && ${line}`), tty);
}

/** Each service's state and health, the certificate's expiry, disk space, the last release event. */
export async function vpsStatus(host: Host): Promise<string> {
  const states = await serviceStates(host);
  const report = await sshOk(
    host,
    asRoot(
      host,
      `cd ${STACK_DIR} && df -Pm / /var/lib/docker | awk 'NR>1 {print "disk=" $6 ": " $4 " MB free of " $2 " MB"}' | sort -u; ` +
        `echo "event=$(tail -n 1 releases.log 2>/dev/null)"; sed -n 's/^SITE_DOMAIN=/domain=/p;s/^SERVER_IPV4=/address=/p' .env; ` +
        `echo "releases=$(docker image ls --format '{{.Repository}}:{{.Tag}}' webstack/app | sort | tr '\n' ' ')"`,
    ),
  );
  const lines = report.trim().split('\n');
  const value = (key: string) => lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
  const [domain, address] = [value('domain'), value('address')];
  const cert = await servedCertificate(443, domain, address).then(
    (c) =>
      `${c.issuer}, ${((c.notAfter.getTime() - Date.now()) / 86_400_000).toFixed(1)} days left (until ${c.notAfter.toISOString()})`,
    (err: Error) => `not readable: ${err.message}`,
  );
  return [
    `${hostLabel(host)}: https://${domain}/ at ${address}`,
    ...states.map((s) => `  ${s.service.padEnd(6)} ${s.state}${s.health ? `, ${s.health}` : ''}`),
    `  certificate: ${cert}`,
    ...lines.filter((line) => line.startsWith('disk=')).map((line) => `  disk ${line.slice(5)}`),
    `  last release event: ${value('event') || 'none recorded'}`,
    `  app images: ${value('releases')}`,
  ].join('\n');
}
