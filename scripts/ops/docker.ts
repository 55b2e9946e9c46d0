import { PassThrough, type Readable, type Writable } from 'node:stream';
import Docker from 'dockerode';

export const docker = new Docker();

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
  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  const stdout = options.stdout ?? new PassThrough().on('data', (chunk: Buffer) => stdoutChunks.push(chunk));
  const stderr = new PassThrough().on('data', (chunk: Buffer) => stderrChunks.push(chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
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
    await new Promise((resolve) => setTimeout(resolve, 50));
    info = await exec.inspect();
  }
  return {
    exitCode: info.ExitCode ?? -1,
    stdout: Buffer.concat(stdoutChunks).toString('utf8'),
    stderr: Buffer.concat(stderrChunks).toString('utf8'),
  };
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

/** The running or stopped container of one compose service, by compose's own labels. */
export async function serviceContainer(project: string, service: string): Promise<Docker.Container> {
  const found = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  // After a recreate a stopped predecessor can linger for a moment; prefer the running one.
  const chosen = found.find((c) => c.State === 'running') ?? found[0];
  if (!chosen)
    throw new Error(`no container for service "${service}" in compose project "${project}": is the stack up?`);
  return docker.getContainer(chosen.Id);
}

/** The last lines a container logged, for error messages. */
export async function lastLogLines(container: Docker.Container, lines = 20): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const raw = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
  // Without a TTY the log is multiplexed: 8-byte frame headers before each chunk.
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    chunks.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}
