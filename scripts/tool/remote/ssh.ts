/*
 * A server reached over SSH, through the OpenSSH client (`ssh`), so the user's own
 * ~/.ssh/config, agent, known_hosts and ProxyJump all apply as they do in a terminal.
 *
 * API (shared by scripts/vps and the Swarm tool; keep it backward compatible):
 *   parseHost('user@host[:port]', { identity?, knownHosts? }) → Host      (pure; throws on bad input)
 *   hostLabel(host) → 'user@host:port'                                      (pure)
 *   sshArgs(host, extra?) → argv for `ssh` (batch mode, timeouts, key)        (pure)
 *   shellQuote(word) → a word the remote POSIX shell reads back verbatim      (pure)
 *   asRoot(host, command) → command wrapped in `sudo -n` unless user is root  (pure)
 *   explainSshFailure(host, stderr) → what went wrong and what to do next     (pure)
 *   sshRun(host, command, { stdin?, stdout?, timeoutMs?, onStderr?, compress? }) → { exitCode, stdout, stderr }
 *   sshOk(host, command, options?) → stdout; throws SshError (exit ≠ 0, with ssh's failure explained)
 *   dockerTunnel(host) → { docker, dockerHost, socketPath, close() }: the server's Docker engine
 *       through a Unix socket forwarded by the same ssh client (dockerode and the docker CLI alike).
 *
 * Why a forwarded socket rather than dockerode's own ssh:// (the ssh2 library) or the CLI's
 * DOCKER_HOST=ssh://: ssh2 verifies no host key unless given a verifier and reads neither
 * ~/.ssh/config nor an agent's keys by itself, and the CLI's ssh:// cannot be given an identity
 * file. One OpenSSH connection with `-L local.sock:/var/run/docker.sock` serves both clients
 * with the user's real SSH setup, and `DOCKER_HOST=unix://…` works for `docker compose` too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import Docker from 'dockerode';
import { GiveUp, waitFor } from '../core/wait.js';

export interface Host {
  user: string;
  /** Name or address, as given (IPv6 without brackets). */
  host: string;
  port: number;
  /** Private key file (`ssh -i`); otherwise ssh's own choice (agent, ~/.ssh/id_*). */
  identity?: string;
  /** known_hosts file to use instead of ssh's default; new hosts are accepted on first use. */
  knownHosts?: string;
}

/** Parses `user@host`, `user@host:port`, `user@[v6::addr]:port`; user defaults to root, port to 22. */
export function parseHost(target: string, options: { identity?: string; knownHosts?: string } = {}): Host {
  const match = /^(?:([a-z_][a-z0-9_.-]*)@)?(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(target.trim());
  if (!match) {
    throw new Error(
      `"${target}" is not a server to reach over SSH: give user@host or user@host:port (e.g. root@203.0.113.7)`,
    );
  }
  const [, user = 'root', rawHost = '', rawPort] = match;
  const port = rawPort === undefined ? 22 : Number(rawPort);
  if (port < 1 || port > 65535) throw new Error(`"${target}": SSH port ${rawPort} is not between 1 and 65535`);
  return { user, host: rawHost.replace(/^\[|\]$/g, ''), port, ...options };
}

export const hostLabel = (host: Host) =>
  `${host.user}@${host.host.includes(':') ? `[${host.host}]` : host.host}${host.port === 22 ? '' : `:${host.port}`}`;

/** The ssh argv for `host`: never prompts (batch mode), gives up on a dead link, `extra` before the destination. */
export function sshArgs(host: Host, extra: string[] = []): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'ServerAliveInterval=10',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'StrictHostKeyChecking=accept-new',
    ...(host.knownHosts ? ['-o', `UserKnownHostsFile=${host.knownHosts}`] : []),
    ...(host.identity ? ['-i', host.identity, '-o', 'IdentitiesOnly=yes'] : []),
    '-p', String(host.port),
    '-l', host.user,
    ...extra,
    '--',
    host.host,
  ]; // prettier-ignore
}

/** Single-quotes a word for the remote shell (ssh joins its arguments into one command line). */
export const shellQuote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** The command as root: as is for root, else through sudo without a password prompt (batch mode). */
export const asRoot = (host: Host, command: string) =>
  host.user === 'root' ? command : `sudo -n sh -c ${shellQuote(command)}`;

/** ssh's own failure (exit 255) in words a user can act on. */
export function explainSshFailure(host: Host, stderr: string): string {
  const label = hostLabel(host);
  const said = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no message';
  if (/Could not resolve hostname/i.test(stderr))
    return `cannot resolve ${host.host}: check the server's name or use its IP address (${said})`;
  if (/Connection refused/i.test(stderr))
    return `${label}: nothing accepts SSH connections on port ${host.port}: is sshd running, and is this the right port? (${said})`;
  if (/timed out|No route to host|Network is unreachable|Connection closed by .* port|Connection reset/i.test(stderr))
    return `${label} is unreachable: check the address, that the server is up, and that port ${host.port} is open to you (${said})`;
  if (/Permission denied/i.test(stderr))
    return `${label} refused the key${host.identity ? ` ${host.identity}` : ''}: add its public key to the server's ~/.ssh/authorized_keys for ${host.user}, or pass the right one with --identity (${said})`;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr))
    return `${label}'s host key is not the one known for it: if the server was reinstalled, remove its old line from known_hosts (ssh-keygen -R ${host.host}); otherwise do not connect (${said})`;
  return `ssh to ${label} failed: ${said}`;
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  /** Fed to the remote command's stdin (a string or a stream), which is closed after it. */
  stdin?: string | Readable;
  /** Receives the remote stdout instead of the result (large outputs). */
  stdout?: Writable;
  /** Kills the ssh client after this long (default: none). */
  timeoutMs?: number;
  /** Called with each chunk of the remote stderr as it arrives (progress of long steps). */
  onStderr?: (text: string) => void;
  /** Compress the stream on the wire (ssh -C): for bulk data such as images over a real link. */
  compress?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs one shell command line on the server; resolves with its exit code (255: ssh itself failed). */
export function sshRun(host: Host, command: string, options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(host, options.compress ? ['-C'] : []), command], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (options.stdout) child.stdout.pipe(options.stdout);
    else child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      err.push(chunk);
      options.onStderr?.(chunk.toString('utf8'));
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), options.timeoutMs) : undefined;
    child.on('error', (e) => reject(new Error(`cannot run ssh (is the OpenSSH client installed?): ${e.message}`)));
    // The remote side may exit before reading all of stdin; that is its answer, not our error.
    child.stdin.on('error', () => undefined);
    const input = options.stdin;
    if (input === undefined) child.stdin.end();
    else (typeof input === 'string' ? Readable.from([input]) : input).pipe(child.stdin);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        exitCode: code ?? (signal ? 255 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: signal && timer ? `${stderr}\nssh: timed out after ${options.timeoutMs} ms` : stderr,
      });
    });
  });
}

/** Like sshRun, but any non-zero exit throws an SshError that says what to do. */
export async function sshOk(host: Host, command: string, options: RunOptions = {}): Promise<string> {
  const result = await sshRun(host, command, options);
  if (result.exitCode === 0) return result.stdout;
  const message =
    result.exitCode === 255
      ? explainSshFailure(host, result.stderr)
      : `on ${hostLabel(host)}, "${command.length > 80 ? `${command.slice(0, 77)}...` : command}" failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim()}`;
  throw new SshError(message, result.exitCode, result.stderr);
}

export interface DockerTunnel {
  /** A dockerode client for the server's engine. */
  docker: Docker;
  /** `unix:///…`, for DOCKER_HOST of the docker CLI and compose. */
  dockerHost: string;
  socketPath: string;
  close(): Promise<void>;
}

/** The server's Docker engine, forwarded to a local Unix socket until close(). */
export async function dockerTunnel(host: Host, remoteSocket = '/var/run/docker.sock'): Promise<DockerTunnel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'webstack-ssh-'));
  const socketPath = path.join(dir, 'docker.sock');
  const args = sshArgs(host, [
    '-N',
    '-o', 'ExitOnForwardFailure=yes',
    '-o', 'StreamLocalBindUnlink=yes',
    '-L', `${socketPath}:${remoteSocket}`,
  ]); // prettier-ignore
  const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  let gone = false;
  void exited.then(() => (gone = true));
  const close = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `the SSH tunnel to ${hostLabel(host)}'s Docker engine is open`,
      async () => {
        if (gone) throw new GiveUp(explainSshFailure(host, stderr));
        return existsSync(socketPath);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { docker: new Docker({ socketPath }), dockerHost: `unix://${socketPath}`, socketPath, close };
}
