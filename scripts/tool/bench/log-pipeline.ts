import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of Docker's log pipeline, read from the host's /proc: dockerd (its log driver
 * writes every line a container prints) and the containerd-shim of each given container
 * (it copies the container's stdout and stderr to dockerd). Needs the bench to run on the
 * Docker host, as root or as the engine's user.
 */

// Linux reports utime and stime in clock ticks; USER_HZ is 100 on every Linux ABI the
// engine runs on (sysconf(_SC_CLK_TCK)), and Node has no call to read it.
const MS_PER_TICK = 10;

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // The process ended between the directory listing and the read.
    return undefined;
  }
}

function processIds(): string[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
}

/**
 * dockerd's pid, and the shims' of these containers (shim v2: `-id <container id>` on its
 * command line). Kept apart because dockerd also serves every other container on the machine,
 * while these shims carry this stack's output only.
 */
export function logPipelinePids(containerIds: string[]): { dockerd: number[]; shims: number[] } {
  const ids = new Set(containerIds);
  const dockerd: number[] = [];
  const shims: number[] = [];
  for (const pid of processIds()) {
    const comm = readOrUndefined(`/proc/${pid}/comm`)?.trim();
    if (comm === 'dockerd') dockerd.push(Number(pid));
    else if (comm?.startsWith('containerd-shim')) {
      const args = readOrUndefined(`/proc/${pid}/cmdline`)?.split('\0') ?? [];
      const id = args[args.indexOf('-id') + 1];
      if (args.includes('-id') && id !== undefined && ids.has(id)) shims.push(Number(pid));
    }
  }
  if (!dockerd.length) throw new Error('no dockerd process in /proc: the bench must run on the Docker host');
  return { dockerd, shims };
}

/** User plus system CPU time these processes have used so far, in milliseconds. */
export function cpuTimeMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readOrUndefined(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    // Fields after the command name, which is in parentheses and may itself hold spaces:
    // utime and stime are fields 14 and 15 of proc(5), so 12 and 13 after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * MS_PER_TICK;
}
