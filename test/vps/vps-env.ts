// The simulated VPS of the scripts/vps tests: a Debian trixie container with sshd and no
// Docker (test/vps/vps-image), key login with a key made here, on the HTTPS tests' own
// network beside their DNS server and Pebble, plus an outside client. It runs its own
// Docker engine once setup installs one, which needs what ENVIRONMENT.md describes:
// every capability but SYS_RESOURCE, no seccomp/AppArmor confinement, the cgroup
// hierarchy, and /var/lib/docker on a volume.
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildImage, docker, execIn, removeContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { parseHost, sshRun, type Host } from '../../scripts/tool/remote/ssh.js';
import { unlimited } from '../../scripts/tool/testing/stack.js';
import {
  ACME_ENV_IMAGE,
  CAA_IDENTITY,
  SITE_DOMAIN,
  pebbleAnswers,
  startDns,
  startPebble,
  type TestNetwork,
} from '../https/acme-env.js';
import { TEST_LABEL } from '../support/labels.js';

const run = promisify(execFile);
const tag = imagesOf(process.env).tag;
export const VPS_IMAGE = `webstack-test/vps:${tag}`;
const BASE_IMAGE = 'webstack-local/debian:trixie';

export async function buildVpsImage(): Promise<void> {
  await buildImage(fileURLToPath(new URL('./vps-image/', import.meta.url)), VPS_IMAGE, { BASE_IMAGE });
}

/** A fresh key pair and known_hosts file for one test run. */
export async function makeKeys(): Promise<{ dir: string; identity: string; publicKey: string; knownHosts: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'webstack-vps-test-'));
  const identity = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'webstack-vps-test', '-f', identity]);
  return {
    dir,
    identity,
    publicKey: readFileSync(`${identity}.pub`, 'utf8').trim(),
    knownHosts: path.join(dir, 'known_hosts'),
  };
}

export interface Vps {
  name: string;
  address: string;
  host: Host;
  /** Stops and starts the container: the boot script starts what setup enabled, as a reboot would. */
  reboot(): Promise<void>;
  remove(): Promise<void>;
}

const answersSsh = (host: Host, what: string) =>
  waitFor(`${what} answers SSH`, async () => (await sshRun(host, 'true', { timeoutMs: 10_000 })).exitCode === 0, {
    timeoutMs: 60_000,
    intervalMs: 500,
  });

/** Starts a simulated VPS at `address` that accepts `publicKey` for root; resolves once sshd answers. */
export async function startVps(
  network: TestNetwork,
  name: string,
  address: string,
  keys: { identity: string; publicKey: string; knownHosts: string },
): Promise<Vps> {
  await removeContainer(name);
  const volume = `${name}-docker`;
  await docker
    .getVolume(volume)
    .remove()
    .catch(() => undefined);
  await docker.createVolume({ Name: volume, Labels: TEST_LABEL });
  const container = await docker.createContainer({
    name,
    Image: VPS_IMAGE,
    Labels: TEST_LABEL,
    Hostname: 'vps',
    Env: [`AUTHORIZED_KEY=${keys.publicKey}`],
    HostConfig: {
      NetworkMode: network.name,
      CapAdd: ['ALL'],
      CapDrop: ['SYS_RESOURCE'],
      SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
      // The API's form of the CLI's --security-opt systempaths=unconfined.
      MaskedPaths: [],
      ReadonlyPaths: [],
      Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw', `${volume}:/var/lib/docker`],
    },
    NetworkingConfig: { EndpointsConfig: { [network.name]: { IPAMConfig: { IPv4Address: address } } } },
  });
  const host = parseHost(`root@${address}`, { identity: keys.identity, knownHosts: keys.knownHosts });
  const sshd = () => answersSsh(host, 'the VPS');
  await container.start();
  await sshd();
  return {
    name,
    address,
    host,
    async reboot() {
      await container.stop({ t: 30 });
      await container.start();
      await sshd();
    },
    async remove() {
      await removeContainer(name);
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => undefined);
    },
  };
}

/**
 * A second machine at `address`: the same Debian image with sshd, accepting `publicKey` for
 * root, no engine of its own (an off-site SFTP target); resolves once it answers SSH.
 */
export async function startSshHost(
  network: TestNetwork,
  name: string,
  address: string,
  keys: { identity: string; publicKey: string; knownHosts: string },
): Promise<{ host: Host; remove(): Promise<void> }> {
  await removeContainer(name);
  const container = await docker.createContainer({
    name,
    Image: VPS_IMAGE,
    Labels: TEST_LABEL,
    Env: [`AUTHORIZED_KEY=${keys.publicKey}`],
    HostConfig: { NetworkMode: network.name },
    NetworkingConfig: { EndpointsConfig: { [network.name]: { IPAMConfig: { IPv4Address: address } } } },
  });
  await container.start();
  const host = parseHost(`root@${address}`, { identity: keys.identity, knownHosts: keys.knownHosts });
  await answersSsh(host, name);
  return { host, remove: () => removeContainer(name) };
}

/** A client outside the server on the same network: which TCP ports of `address` accept a connection. */
export async function openPorts(
  network: TestNetwork,
  name: string,
  address: string,
  ports: number[],
): Promise<number[]> {
  await removeContainer(name);
  // All at once: a port the firewall drops takes the whole 3 s timeout.
  const probe = `${ports
    .map((port) => `(if timeout 3 bash -c '</dev/tcp/${address}/${port}' 2>/dev/null; then echo ${port}; fi) &`)
    .join(' ')} wait`;
  const container = await docker.createContainer({
    name,
    Image: ACME_ENV_IMAGE,
    Cmd: ['sleep', '120'],
    Labels: TEST_LABEL,
    HostConfig: { NetworkMode: network.name },
  });
  await container.start();
  try {
    const result = await execIn(container, ['bash', '-c', probe]);
    return result.stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b);
  } finally {
    await removeContainer(name);
  }
}

export interface CommandResult {
  code: number;
  output: string;
  ms: number;
}

/** Every scripts/vps run of the test, with its output: the docs' examples are copied from it. */
export const TRANSCRIPT = path.join(REPO_ROOT, 'test/results/vps-commands.txt');

export function startTranscript(): void {
  mkdirSync(path.dirname(TRANSCRIPT), { recursive: true });
  writeFileSync(TRANSCRIPT, '');
}

/**
 * Runs scripts/vps as a user would, with `env` added and `input` piped in; stdout and stderr
 * together, also appended to `transcript`.
 */
export function vpsCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  {
    input = '',
    timeoutMs = 600_000,
    transcript = TRANSCRIPT,
  }: { input?: string; timeoutMs?: number; transcript?: string } = {},
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(REPO_ROOT, 'scripts/vps'), args, { env: { ...process.env, ...env } });
    child.stdin.end(input);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      appendFileSync(
        transcript,
        `${input ? `$ echo '${input.trim()}' | ` : '$ '}scripts/vps ${args.join(' ')}\n${output}(exit status ${code}, ${(ms / 1000).toFixed(1)} s)\n\n`,
      );
      resolve({ code: code ?? -1, output, ms });
    });
  });
}

export const writeFile = (dir: string, name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

/** DNS serving `zone` and Pebble (hour-long certificates) on `network`, once Pebble answers: its API certificate and root. */
export async function startAcme(network: TestNetwork, zone: string): Promise<{ apiCert: string; root: string }> {
  await startDns(network, zone);
  return pebbleAnswers(network, await startPebble(network, 3600));
}

/**
 * The deployment file's vps section for the site on `address` with the test's Pebble and DNS
 * (Pebble's API certificate written to `dir`), and the environment scripts/vps runs with:
 * the site checked as a browser would (Pebble's root trusted), images sent uncompressed.
 */
export function siteSetup(
  network: TestNetwork,
  keys: { dir: string; identity: string; knownHosts: string },
  address: string,
  pebble: { apiCert: string; root: string },
): { section: Record<string, unknown>; env: NodeJS.ProcessEnv } {
  return {
    section: {
      host: `root@${address}`,
      identity: keys.identity,
      domain: SITE_DOMAIN,
      email: 'admin@foobar.com',
      'acme-directory': `https://${network.pebble}:14000/dir`,
      'acme-ca': writeFile(keys.dir, 'pebble-api.pem', pebble.apiCert),
      caa: CAA_IDENTITY,
      resolver: `${network.dns}:53`,
      // Load comes from one address: no rate limits in the way; quick ACME retries.
      settings: { ...unlimited, ACME_RETRY_MIN_SECONDS: '2', ACME_RETRY_MAX_SECONDS: '4' },
    },
    env: {
      VPS_KNOWN_HOSTS: keys.knownHosts,
      // The outside check verifies the site as a browser would: Pebble's root is trusted like a real CA's.
      NODE_EXTRA_CA_CERTS: writeFile(keys.dir, 'pebble-root.pem', pebble.root),
      // The server is on this machine's own network: zlib on the image stream would only take
      // CPU from the lanes running beside this one.
      VPS_SHIP_COMPRESS: 'false',
    },
  };
}

/** Removes the test's own containers on `network` (named `<network>-<part>`), then the network. */
export async function removeNetwork(network: TestNetwork, parts: string[]): Promise<void> {
  for (const part of parts) await removeContainer(`${network.name}-${part}`);
  await network.remove();
}
