// scripts/vps deploy, rollback, backup, restore, logs, status, ssh: the same code as this
// machine's scripts/deploy, rollback, backup and restore, run against the server's engine
// (an SSH-forwarded socket) with compose run on the server, where its .env lives.
import { spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { stripVTControlCharacters } from 'node:util';
import { servedCertificate } from '../cert/status.js';
import { appMigrations } from '../core/app.js';
import { ensureBaseImages } from '../core/base-images.js';
import { compose } from '../core/compose.js';
import { imagesOf } from '../core/env.js';
import { REPO_ROOT } from '../core/paths.js';
import type { Log } from '../core/steps.js';
import { backup, restore, type BackupResult, type RestoreOptions } from '../local/backup.js';
import { deploy, rollback, type DeployResult } from '../local/deploy.js';
import { releaseTag } from '../local/release.js';
import { shipImages } from '../remote/ship.js';
import { asRoot, hostLabel, shellQuote, sshArgs, sshOk, type Host } from '../remote/ssh.js';
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
    const result = await onServerEngine(host, () =>
      deploy({
        project: PROJECT,
        env: {},
        image: ref,
        compose: remoteCompose(host),
        readyTimeoutMs: options.readyTimeoutMs,
        log,
      }),
    );
    await recordEvent(host, `deploy: ${ref} (${result.live.slice(7, 19)}) live as ${result.liveRef}`);
    return result;
  });
}

/** Switches the server back to the release before the live one, the same zero-downtime way. */
export async function vpsRollback(options: VpsOptions): Promise<DeployResult> {
  const { host, log = console.log } = options;
  return withServerLock(host, 'rollback', async () => {
    const result = await onServerEngine(host, () =>
      rollback({ project: PROJECT, env: {}, compose: remoteCompose(host), log }),
    );
    await recordEvent(host, `rollback: ${result.live.slice(7, 19)} live as ${result.liveRef}`);
    return result;
  });
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
 * sequence split between two chunks is still removed whole.
 */
export function withoutEscapes(): Transform {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop() ?? '';
      done(null, lines.map((line) => `${stripVTControlCharacters(line)}\n`).join(''));
    },
    flush(done) {
      done(null, stripVTControlCharacters(partial + decoder.end()));
    },
  });
}

export interface LogsOptions {
  service?: string;
  follow?: boolean;
  tail: number;
}

/** The compose logs command line run on the server; without colours unless they go to a terminal. */
export function logsCommand(options: LogsOptions, terminal: boolean): string {
  const args = ['docker', 'compose', 'logs', '--tail', String(options.tail), ...(options.follow ? ['--follow'] : [])];
  if (!terminal) args.push('--no-color');
  if (options.service) args.push(options.service);
  return `cd ${STACK_DIR} && ${args.map(shellQuote).join(' ')}`;
}

/**
 * The stack's logs on the server (compose logs), optionally one service, optionally followed.
 * Into a terminal as they come; into a pipe or a file as plain text: Compose 2.26 starts
 * every line with ESC[2K even with --no-color and no terminal, so the escapes are removed here.
 */
export async function vpsLogs(host: Host, options: LogsOptions): Promise<number> {
  const terminal = process.stdout.isTTY === true && process.stderr.isTTY === true;
  const command = asRoot(host, logsCommand(options, process.stdout.isTTY === true));
  if (terminal) return attached(host, command, false);
  const child = spawn('ssh', [...sshArgs(host), command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  // Container stderr (nginx's error log, say) comes through compose's stderr.
  const to = (from: Readable, out: NodeJS.WriteStream) =>
    out.isTTY ? pipeline(from, out, { end: false }) : pipeline(from, withoutEscapes(), out, { end: false });
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
