// scripts/vps deploy, rollback, backup, restore, logs, status, ssh: the same code as this
// machine's scripts/deploy, rollback, backup and restore, run against the server's engine
// (an SSH-forwarded socket) with compose run on the server, where its .env lives.
import { spawn } from 'node:child_process';
import { servedCertificate } from '../cert/status.js';
import { compose } from '../core/compose.js';
import { imagesOf } from '../core/env.js';
import type { Log } from '../core/steps.js';
import { backup, restore, type BackupResult, type RestoreOptions } from '../local/backup.js';
import { deploy, rollback, type DeployResult } from '../local/deploy.js';
import { releaseTag } from '../local/release.js';
import { shipImages } from '../remote/ship.js';
import { asRoot, hostLabel, shellQuote, sshArgs, sshOk, type Host } from '../remote/ssh.js';
import { onServerEngine, PROJECT, recordEvent, remoteCompose, STACK_DIR, withServerLock } from './server.js';
import { buildEnv, serviceStates } from './setup.js';

export interface VpsOptions {
  host: Host;
  /** Environment for building here (IMAGE_TAG, base images, REGISTRY). */
  env: NodeJS.ProcessEnv;
  log?: Log;
}

/** Builds the working tree's app here, ships it, and switches the server to it without downtime. */
export async function vpsDeploy(
  options: VpsOptions & { image?: string; registry?: string; compress?: boolean; readyTimeoutMs?: number },
): Promise<DeployResult> {
  const { host, env, log = console.log } = options;
  const images = imagesOf(env);
  let image = options.image;
  if (!image) {
    const release = releaseTag(images.tag, new Date());
    image = `webstack/app:${release}`;
    log(`building ${image} here`);
    await compose(`webstack-vps-build-${images.tag}`, ['build', 'app'], buildEnv({ ...env, IMAGE_TAG: release }));
  }
  const ref = image;
  const shipped = await shipImages(host, [ref], { registry: options.registry, compress: options.compress, log });
  log(
    `${ref} ${shipped.sent.length ? `shipped in ${(shipped.ms / 1000).toFixed(1)} s ${options.registry ? `through ${options.registry}` : `(${(shipped.bytes / 1024 / 1024).toFixed(0)} MiB)`}` : 'already on the server'}`,
  );
  return withServerLock(host, 'deploy', async () => {
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

/** The stack's logs on the server (compose logs), optionally one service, optionally followed. */
export function vpsLogs(host: Host, options: { service?: string; follow?: boolean; tail: number }): Promise<number> {
  const args = ['docker', 'compose', 'logs', '--tail', String(options.tail), ...(options.follow ? ['--follow'] : [])];
  if (options.service) args.push(options.service);
  return attached(host, asRoot(host, `cd ${STACK_DIR} && ${args.map(shellQuote).join(' ')}`), false);
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
