import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { docker as engine } from '../ops/docker.js';

// One Docker API client for the whole project; `docker()` below is the CLI.
export { engine };
const run = promisify(execFile);

/** Runs the docker CLI; throws with its output on failure. */
export async function docker(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`docker ${args.slice(0, 3).join(' ')} … failed:\n${stdout}\n${stderr}`, { cause: err });
  }
}

/**
 * The id of one compose service's running container, or undefined when it is not running
 * (unlike ops' serviceContainer, which also finds stopped ones and throws when none exists).
 */
export async function runningServiceId(project: string, service: string): Promise<string | undefined> {
  const [found] = await engine.listContainers({
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  return found?.Id;
}

/** CPU time a container has used so far, in nanoseconds (cgroup v1 and v2 alike). */
export async function cpuTimeNs(id: string): Promise<number> {
  const stats = await engine.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false });
  return stats.cpu_stats.cpu_usage.total_usage;
}

/**
 * Forgets the peak RSS of a container's main process (PID 1), so the next reading of
 * VmHWM is the peak during what runs in between (see proc(5), clear_refs "5").
 */
export async function resetPeakRss(id: string): Promise<void> {
  await docker(['exec', id, 'sh', '-c', 'echo 5 > /proc/1/clear_refs']);
}

/** Peak RSS of a container's main process since the last reset, in MiB. */
export async function peakRssMiB(id: string): Promise<number> {
  const status = await docker(['exec', id, 'cat', '/proc/1/status']);
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/1/status of ${id.slice(0, 12)}`);
  return Number(match[1]) / 1024;
}
