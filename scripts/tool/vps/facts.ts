// What setup must know about a server before changing anything (server/facts.sh prints
// it), and what it cannot handle. Pure, so the refusals are unit-tested.

export interface ServerFacts {
  osId: string;
  osVersion: string;
  osName: string;
  /** `uname -m`: x86_64, aarch64, … */
  arch: string;
  user: string;
  root: boolean;
  systemd: boolean;
  apt: boolean;
  diskFreeMb: number;
  memoryMb: number;
  /** The server's address as this SSH session reached it, and sshd's port. */
  sshAddress: string;
  sshPort: number;
}

export function parseFacts(text: string): ServerFacts {
  const values = new Map(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );
  const get = (key: string) => values.get(key) ?? '';
  return {
    osId: get('os_id'),
    osVersion: get('os_version'),
    osName: get('os_name'),
    arch: get('arch'),
    user: get('user'),
    root: get('root') === 'yes',
    systemd: get('systemd') === 'yes',
    apt: get('apt') === 'yes',
    diskFreeMb: Number(get('disk_free_mb')) || 0,
    memoryMb: Number(get('memory_mb')) || 0,
    sshAddress: get('ssh_address'),
    sshPort: Number(get('ssh_port')) || 22,
  };
}

/** Docker's name for a `uname -m` architecture (images are built for Docker's names). */
export const dockerArch = (unameArch: string) =>
  ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm' })[unameArch] ?? unameArch;

/** Releases whose distribution packages give Docker Engine and Compose v2 (Debian 12 with trixie's Compose). */
const SUPPORTED: Record<string, { min: number; names: string }> = {
  debian: { min: 12, names: 'Debian 12 or 13' },
  ubuntu: { min: 22.04, names: 'Ubuntu 22.04 or 24.04' },
};

/** Needed free space: the images (about 1.5 GB unpacked), a second app release, the database. */
export const MIN_DISK_FREE_MB = 4096;

/** Everything that stops setup on this server, each with what to do; empty when it can go ahead. */
export function setupProblems(facts: ServerFacts, localArch: string): string[] {
  const problems: string[] = [];
  const supported = SUPPORTED[facts.osId];
  if (!supported || !(Number(facts.osVersion) >= supported.min)) {
    problems.push(
      `the server runs ${facts.osName || `${facts.osId} ${facts.osVersion}`}, which setup does not handle: use a fresh ${Object.values(
        SUPPORTED,
      )
        .map((s) => s.names)
        .join(' or ')} server`,
    );
  }
  if (!facts.apt) problems.push('the server has no apt-get: setup installs Docker from Debian/Ubuntu packages');
  if (!facts.systemd) problems.push('the server has no systemctl: setup relies on systemd to start the stack at boot');
  if (!facts.root) {
    problems.push(
      `${facts.user} is not root and cannot use sudo without a password: log in as root, or allow ${facts.user} passwordless sudo`,
    );
  }
  if (dockerArch(facts.arch) !== localArch) {
    problems.push(
      `the server is ${dockerArch(facts.arch)} but this machine builds ${localArch} images: deploy from a ${dockerArch(facts.arch)} machine`,
    );
  }
  if (facts.diskFreeMb < MIN_DISK_FREE_MB) {
    problems.push(
      `the server has ${facts.diskFreeMb} MB free on /, setup needs at least ${MIN_DISK_FREE_MB} MB: free some space or grow the disk`,
    );
  }
  return problems;
}
