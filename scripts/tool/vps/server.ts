// The stack on a server, as scripts/vps reaches it: where it lives there, the scripts run
// there (server/*.sh, as root), compose run there, and the server's engine for the
// deploy, backup and restore code this machine's commands also use.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { composeDefault, type ComposeRunner } from '../core/compose.js';
import { useEngine } from '../core/docker.js';
import { REPO_ROOT } from '../core/paths.js';
import type { Log } from '../core/steps.js';
import { asRoot, dockerTunnel, hostLabel, shellQuote, sshOk, type Host, type RunOptions } from '../remote/ssh.js';

/** Where the release files and the server's .env live, and compose's project there. */
export const STACK_DIR = '/opt/webstack';
export const PROJECT = 'webstack';
/** The compose files on the server, relative to STACK_DIR (also COMPOSE_FILE in its .env). */
export const COMPOSE_FILES = ['docker-compose.yml', 'scripts/tool/vps/host-network.compose.yml'];
/** The compose file that adds the backup service, in COMPOSE_FILE only when BACKUP_REPOSITORY is set. */
export const BACKUP_COMPOSE_FILE = 'scripts/tool/vps/backup.compose.yml';
/**
 * Where the app's folder of SQL files goes on the server, whichever folder it is here
 * (compose's default APP_MIGRATIONS there); shipped with each deploy, mirrored whole.
 */
export const MIGRATIONS_FILES = 'app/migrations';
/**
 * What the server needs of this repository besides the images. The bench's published run
 * is the monitor's (a missing bind-mount source would become an empty directory there).
 */
export const RELEASE_FILES = [
  ...COMPOSE_FILES,
  BACKUP_COMPOSE_FILE,
  'db/conf/webstack.cnf',
  'scripts/tool/bench/results/latest.json',
];

const run = promisify(execFile);

/**
 * nginx's settings on a server, each as NAME=DEFAULT (docker-compose.yml's default): those the
 * server's compose file takes out of nginx's environment, as nginx reads them from the file
 * server/env.sh writes beside .env, and a change goes live by a graceful reload.
 */
export function nginxSettings(): string[] {
  const file = parse(readFileSync(path.join(REPO_ROOT, COMPOSE_FILES[1]!), 'utf8'), { logLevel: 'error' }) as {
    services: { nginx: { environment: Record<string, unknown> } };
  };
  return Object.keys(file.services.nginx.environment).map((name) => `${name}=${composeDefault('nginx', name)}`);
}

const script = (name: string) => readFileSync(new URL(`./server/${name}`, import.meta.url), 'utf8');

/** Runs server/<name> as root on the server with `args`; its stdout, or an error naming the step. */
export function runScript(host: Host, name: string, args: string[] = [], options: RunOptions = {}): Promise<string> {
  const command = ['bash', '-c', script(name), name, ...args].map(shellQuote).join(' ');
  return sshOk(host, asRoot(host, command), options);
}

/**
 * Copies `files` (paths relative to the repo, folders whole) and the app's `migrations` folder
 * (as MIGRATIONS_FILES, where files it no longer has are removed) into STACK_DIR on the
 * server, replacing only what differs; server/release.sh's "ok:" / "changed:" lines.
 */
export async function shipFiles(host: Host, files: string[], migrations: string): Promise<string> {
  const staging = mkdtempSync(path.join(tmpdir(), 'webstack-release-'));
  try {
    for (const file of files) cpSync(path.join(REPO_ROOT, file), path.join(staging, file), { recursive: true });
    cpSync(migrations, path.join(staging, MIGRATIONS_FILES), { recursive: true });
    const { stdout: tar } = await run('tar', ['-c', '-C', staging, '.'], {
      encoding: 'buffer',
      maxBuffer: 16 * 1024 * 1024,
    });
    return await runScript(host, 'release.sh', [STACK_DIR, MIGRATIONS_FILES], { stdin: tar });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * "ok: …" / "changed: …" lines of a server script, for the user and setup's count of changes;
 * "removed: A B" names the settings the server's .env no longer has, "settings: A B" those
 * that changed.
 */
export function outcomes(output: string): { ok: string[]; changed: string[]; removed: string[]; settings: string[] } {
  const lines = output.split('\n');
  const pick = (kind: string) => lines.filter((l) => l.startsWith(`${kind}: `)).map((l) => l.slice(kind.length + 2));
  const names = (kind: string) => pick(kind).flatMap((l) => l.split(' ').filter(Boolean));
  return { ok: pick('ok'), changed: pick('changed'), removed: names('removed'), settings: names('settings') };
}

/** Compose on the server, in STACK_DIR with its .env; `env` carries only what a command overrides (IMAGE_TAG). */
export function remoteCompose(host: Host): ComposeRunner {
  return (project, args, env) => {
    const assignments = Object.entries(env).map(([key, value]) => `${key}=${value ?? ''}`);
    const command = ['env', ...assignments, 'docker', 'compose', '-p', project, ...args].map(shellQuote);
    return sshOk(host, asRoot(host, `cd ${STACK_DIR} && ${command.join(' ')}`));
  };
}

/** Runs `work` with the tool's Docker client on the server's engine (an SSH-forwarded socket). */
export async function onServerEngine<T>(host: Host, work: () => Promise<T>): Promise<T> {
  const tunnel = await dockerTunnel(host);
  try {
    useEngine({ socketPath: tunnel.socketPath });
    return await work();
  } finally {
    await tunnel.close();
  }
}

/**
 * One operation at a time on a server (Kamal's way: an atomic mkdir there). A lock left by
 * a killed run is named with its holder and start, so the user can judge and remove it.
 */
export async function withServerLock<T>(host: Host, what: string, work: () => Promise<T>): Promise<T> {
  const lock = `${STACK_DIR}/.lock`;
  const holder = `${what} from ${userInfo().username}@${hostname()} at ${new Date().toISOString()}`;
  const taken = await sshOk(
    host,
    asRoot(
      host,
      `mkdir -p ${STACK_DIR} && if mkdir ${lock} 2>/dev/null; then printf '%s\\n' ${shellQuote(holder)} > ${lock}/holder; echo taken; else cat ${lock}/holder 2>/dev/null || echo unknown; fi`,
    ),
  );
  if (taken.trim() !== 'taken') {
    throw new Error(
      `another operation holds ${hostLabel(host)}'s lock: ${taken.trim()}. If none is running, remove the lock (scripts/vps ssh ${hostLabel(host)}, then rm -r ${lock}) and try again`,
    );
  }
  try {
    return await work();
  } finally {
    await sshOk(host, asRoot(host, `rm -rf ${lock}`)).catch(() => undefined);
  }
}

/** Appends one line to the server's record of releases (scripts/vps status shows the last). */
export function recordEvent(host: Host, line: string): Promise<string> {
  const entry = `${new Date().toISOString()} ${line}`;
  return sshOk(host, asRoot(host, `printf '%s\\n' ${shellQuote(entry)} >> ${STACK_DIR}/releases.log`));
}

/** Prints a server script's progress lines as they arrive. */
export const progressTo = (log: Log) => (text: string) => {
  for (const line of text.split('\n')) if (line.startsWith('progress: ')) log(`  ${line.slice(10)}`);
};
