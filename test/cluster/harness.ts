// A simulated cluster for the Swarm tests: servers you can SSH into, as containers that run
// their own Docker Engine (test/cluster/node), on one network of their own. The node image is
// built once; the nodes start in parallel. Only this test's key logs in.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { buildImage, docker, publishedPort, removeContainer } from '../../scripts/tool/core/docker.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { parseHost, sshArgs, sshRun, type Host } from '../../scripts/tool/remote/ssh.js';
import { TEST_LABEL } from '../support/labels.js';

const run = promisify(execFile);

export interface Node {
  name: string;
  container: Docker.Container;
  /** The node's address on the cluster network (SSH and Swarm traffic). */
  addr: string;
  host: Host;
  /** Where the node's port 443 is published on 127.0.0.1 (the test's way in). */
  httpsPort: number;
}

export interface SimulatedCluster {
  nodes: Node[];
  keyFile: string;
  knownHosts: string;
  /** Runs scripts/cluster with the given arguments, the manager and key filled in. */
  cluster(args: string[], env?: Record<string, string>): Promise<string>;
  /**
   * Follows a service's log lines (every task's, timestamped, stdout and stderr) from now
   * until stop(), which returns them: the lines of tasks removed meanwhile (a scale down)
   * are kept, though `docker service logs` no longer has them afterwards.
   */
  followLogs(service: string): { stop(): Promise<string[]> };
  stopNode(node: Node): Promise<void>;
  startNode(node: Node): Promise<void>;
  remove(): Promise<void>;
}

// What the nested engines need (ENVIRONMENT.md): --privileged is refused on this machine.
const NODE_HOST_CONFIG = {
  CapAdd: ['ALL'],
  CapDrop: ['SYS_RESOURCE'],
  SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
  // The API's form of the CLI's --security-opt systempaths=unconfined.
  MaskedPaths: [],
  ReadonlyPaths: [],
  Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw'],
};

async function nodeReady(node: Node): Promise<void> {
  await waitFor(
    `${node.name} answers SSH and runs its Docker engine`,
    async () =>
      (await sshRun(node.host, 'docker info --format "{{.ServerVersion}}"', { timeoutMs: 10_000 })).exitCode === 0,
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

export async function startCluster(options: { tag: string; size: number; env: NodeJS.ProcessEnv }) {
  const prefix = `${options.tag}-cluster`;
  const image = `webstack-test/cluster-node:${options.tag}`;
  await buildImage(path.join(REPO_ROOT, 'test/cluster/node'), image, {
    BASE_IMAGE: options.env.CLUSTER_NODE_BASE_IMAGE ?? 'webstack-local/debian:trixie',
  });
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  const keyFile = path.join(dir, 'id_ed25519');
  const knownHosts = path.join(dir, 'known_hosts');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', prefix, '-f', keyFile]);
  const publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();

  const names = Array.from({ length: options.size }, (_, i) => `${prefix}-n${i + 1}`);
  await Promise.all(names.map(removeContainer));
  await docker
    .getNetwork(prefix)
    .remove()
    .catch(() => undefined);
  await docker.createNetwork({ Name: prefix, Labels: TEST_LABEL });

  const nodes = await Promise.all(
    names.map(async (name, i): Promise<Node> => {
      const container = await docker.createContainer({
        name,
        Hostname: `n${i + 1}`,
        Image: image,
        Env: [`AUTHORIZED_KEY=${publicKey}`],
        Labels: TEST_LABEL,
        ExposedPorts: { '443/tcp': {} },
        // The engine's state on a volume (not the container's own layer): survives a stop.
        Volumes: { '/var/lib/docker': {} },
        HostConfig: {
          ...NODE_HOST_CONFIG,
          NetworkMode: prefix,
          PortBindings: { '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        },
      });
      await container.start();
      const addr = (await container.inspect()).NetworkSettings.Networks[prefix]!.IPAddress;
      const node: Node = {
        name,
        container,
        addr,
        host: parseHost(`root@${addr}`, { identity: keyFile, knownHosts }),
        httpsPort: await publishedPort(container, 443),
      };
      await nodeReady(node);
      return node;
    }),
  );

  const manager = nodes[0]!;
  const cluster: SimulatedCluster = {
    nodes,
    keyFile,
    knownHosts,
    async cluster(args, env = {}) {
      const [sub = '', ...rest] = args;
      const { stdout } = await run(
        path.join(REPO_ROOT, 'scripts/cluster'),
        [sub, '--manager', `root@${manager.addr}`, '--identity', keyFile, '--known-hosts', knownHosts, ...rest],
        { env: { ...options.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      );
      return stdout;
    },
    followLogs(service) {
      const child = spawn(
        'ssh',
        [...sshArgs(manager.host), `docker service logs --follow --tail 0 --timestamps ${service} 2>&1`],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const chunks: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      return {
        async stop() {
          // The app and nginx write their buffered lines at least once a second.
          await sleep(1500);
          child.kill();
          return Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        },
      };
    },
    async stopNode(node) {
      // The whole server goes: its engine and every container on it, without a goodbye.
      await node.container.kill();
    },
    async startNode(node) {
      await node.container.start();
      // A restarted container may get its port published anew.
      node.httpsPort = await publishedPort(node.container, 443);
      await nodeReady(node);
    },
    async remove() {
      await Promise.all(names.map(removeContainer));
      await docker
        .getNetwork(prefix)
        .remove()
        .catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
