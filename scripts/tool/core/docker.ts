import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { sleep } from './wait.js';

/** The one Docker API client of the tool and the tests (DOCKER_HOST etc. as the CLI reads them). */
export const docker = new Docker();

/**
 * Points the one client at another engine from now on: scripts/vps runs the same deploy,
 * backup and restore code against a server's engine (through an SSH-forwarded socket).
 * Only the modem changes, so every module's `docker` import follows.
 */
export function useEngine(options: Docker.DockerOptions): void {
  docker.modem = new Docker(options).modem;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env?: string[];
  /** Streamed to the command's stdin, which is closed when it ends. */
  stdin?: Readable;
  /** Receives stdout instead of the result (for large outputs such as a dump). */
  stdout?: Writable;
}

/** A Writable that keeps what it is given, for demuxed output read afterwards. */
function collector(): { stream: Writable; text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Runs a command in a running container and waits for it; never throws for a non-zero exit. */
export async function execIn(
  container: Docker.Container,
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: cmd,
    Env: options.env,
    AttachStdin: options.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: options.stdin !== undefined });
  const out = collector();
  const err = collector();
  docker.modem.demuxStream(stream, options.stdout ?? out.stream, err.stream);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  if (options.stdin) {
    options.stdin.pipe(stream as unknown as Writable, { end: false });
    // Half-close: the command sees EOF on stdin and can finish writing its answer.
    options.stdin.on('end', () => (stream as unknown as { end(): void }).end());
  }
  await ended;
  if (options.stdout) options.stdout.end();
  let info = await exec.inspect();
  // The stream can end a moment before the engine records the exit code.
  for (let i = 0; info.Running && i < 100; i++) {
    await sleep(50);
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode ?? -1, stdout: out.text(), stderr: err.text() };
}

/** Like execIn, but a non-zero exit is an error naming the command and its stderr. */
export async function execOk(container: Docker.Container, cmd: string[], options: ExecOptions = {}): Promise<string> {
  const result = await execIn(container, cmd, options);
  if (result.exitCode !== 0) {
    const said = (result.stderr || result.stdout).trim();
    throw new Error(`"${cmd.join(' ')}" failed in ${container.id.slice(0, 12)} (exit ${result.exitCode}): ${said}`);
  }
  return result.stdout;
}

/**
 * A signal to the container's main process from the host. SIGKILL is a crash as the
 * kernel's OOM killer would deliver it. (`docker kill` would not do: Docker counts it as
 * a manual stop and its restart policy then leaves the container down, like `docker stop`.)
 */
export async function signalMainProcess(container: Docker.Container, signal: NodeJS.Signals): Promise<void> {
  const pid = (await container.inspect()).State.Pid;
  try {
    process.kill(pid, signal);
  } catch (err) {
    throw new Error(
      `cannot signal process ${pid} of ${container.id.slice(0, 12)} (${(err as Error).message}): run as root on the Docker host`,
      { cause: err },
    );
  }
}

/**
 * The container of one compose service, by compose's own labels: the running one if any
 * (after a recreate a stopped predecessor can linger for a moment), else a stopped one
 * unless `runningOnly`; undefined when there is none.
 */
export async function findServiceContainer(
  project: string,
  service: string,
  { runningOnly = false } = {},
): Promise<Docker.Container | undefined> {
  const found = await docker.listContainers({
    all: !runningOnly,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  const chosen = found.find((c) => c.State === 'running') ?? found[0];
  return chosen && docker.getContainer(chosen.Id);
}

/**
 * The services of a compose project that joined `owner`'s network namespace
 * (`network_mode: service:…`, which Docker records as `container:<id>`), by service name.
 */
export async function namespaceMembers(
  project: string,
  owner: Docker.Container,
): Promise<Map<string, Docker.Container>> {
  const found = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`] },
  });
  return new Map(
    found
      .filter((c) => c.HostConfig.NetworkMode === `container:${owner.id}`)
      .map((c) => [c.Labels['com.docker.compose.service'] ?? c.Id, docker.getContainer(c.Id)]),
  );
}

/** The running or stopped container of one compose service; throws when the stack has none. */
export async function serviceContainer(project: string, service: string): Promise<Docker.Container> {
  const found = await findServiceContainer(project, service);
  if (!found)
    throw new Error(`no container for service "${service}" in compose project "${project}": is the stack up?`);
  return found;
}

/** The host port a container publishes for `containerPort`/tcp. */
export async function publishedPort(container: Docker.Container, containerPort = 80): Promise<number> {
  const binding = (await container.inspect()).NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new Error(`container ${container.id.slice(0, 12)} publishes no port ${containerPort}`);
  return Number(binding.HostPort);
}

/** The last lines a container logged, for error messages. */
export async function lastLogLines(container: Docker.Container, lines = 20): Promise<string> {
  const raw = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
  return demuxLog(raw).trim();
}

/** A container's whole log (stdout and stderr interleaved) as text. */
export async function logText(container: Docker.Container): Promise<string> {
  return demuxLog((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
}

/** Without a TTY a container log is multiplexed: an 8-byte frame header before each chunk. */
function demuxLog(raw: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    chunks.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Removes a container by name or id, running or not; no error when it does not exist. */
export async function removeContainer(nameOrId: string): Promise<void> {
  await docker
    .getContainer(nameOrId)
    .remove({ force: true, v: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

/** Builds an image from a folder (every file in it is the context), e.g. the bench's wrk image. */
export async function buildImage(contextDir: string, tag: string, buildargs: Record<string, string> = {}) {
  const src = readdirSync(contextDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(contextDir, path.join(entry.parentPath, entry.name)));
  // Host networking so apt inside the build uses the host's resolver (see ENVIRONMENT notes).
  const stream = await docker.buildImage({ context: contextDir, src }, { t: tag, buildargs, networkmode: 'host' });
  await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
      const failed = output?.find((event) => event.error);
      if (err || failed) reject(err ?? new Error(`building ${tag} failed: ${failed?.error}`));
      else resolve(undefined);
    }),
  );
}

/** CPU time a container has used so far, in nanoseconds (cgroup v1 and v2 alike). */
export async function cpuTimeNs(container: Docker.Container): Promise<number> {
  const stats = await container.stats({ stream: false, 'one-shot': true } as { stream: false });
  return stats.cpu_stats.cpu_usage.total_usage;
}

/**
 * A container's memory as `docker stats` shows it: the cgroup's usage less its inactive
 * page cache (cgroup v1's total_inactive_file, v2's inactive_file), in MiB.
 */
export async function memoryMiB(container: Docker.Container): Promise<number> {
  const { memory_stats: memory } = await container.stats({ stream: false, 'one-shot': true } as { stream: false });
  const stats = memory.stats as unknown as Record<string, number | undefined>;
  const inactive = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  return (memory.usage - inactive) / 1024 / 1024;
}

/**
 * Forgets the peak RSS of every process of a container, so the next reading of VmHWM is
 * the peak during what runs in between (see proc(5), clear_refs "5").
 */
export async function resetPeakRss(container: Docker.Container): Promise<void> {
  await execOk(container, ['sh', '-c', 'for f in /proc/[0-9]*/clear_refs; do echo 5 > "$f"; done 2>/dev/null; true']);
}

/**
 * Peak RSS since the last reset, summed over a container's processes (one for Node.js, a
 * master and its workers for Gunicorn), in MiB. The reading's own process is left out: the
 * exec'd `cat` is the only one besides PID 1 whose parent is outside the container.
 */
export async function peakRssMiB(container: Docker.Container): Promise<number> {
  // A process that ends between the glob and the read makes cat fail: the others still count.
  const { stdout: status } = await execIn(container, ['sh', '-c', 'exec cat /proc/[0-9]*/status 2>/dev/null']);
  let kB = 0;
  let found = false;
  for (const block of status.split(/^(?=Name:)/m)) {
    const field = (name: string) => new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(block)?.[1];
    const [pid, ppid, hwm] = [field('Pid'), field('PPid'), field('VmHWM')];
    if (pid === undefined || hwm === undefined || (ppid === '0' && pid !== '1')) continue;
    kB += Number(hwm);
    found = true;
  }
  if (!found) throw new Error(`no VmHWM in /proc/*/status of ${container.id.slice(0, 12)}`);
  return kB / 1024;
}
