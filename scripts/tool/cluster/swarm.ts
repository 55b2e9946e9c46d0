// Docker Swarm through the manager's docker CLI over SSH (scripts/tool/remote): creating the
// cluster from servers, labelling nodes, and waiting for services to converge. The CLI on the
// manager rather than the API, because `docker stack deploy` exists only in the CLI.
import type { Log } from '../core/steps.js';
import { waitFor, GiveUp } from '../core/wait.js';
import { asRoot, hostLabel, parseHost, shellQuote, sshOk, type Host } from '../remote/ssh.js';

/** What every command knows about the cluster: how to reach its manager. */
export interface Cluster {
  manager: Host;
  /** The stack's name (service names are <stack>_app etc.). */
  stack: string;
  log: Log;
}

export const STACK = 'webstack';
export const service = (cluster: Cluster, name: 'app' | 'nginx' | 'db') => `${cluster.stack}_${name}`;

/** A docker command line on the manager, as root. */
export const onManager = (cluster: Cluster, command: string, stdin?: string) =>
  sshOk(cluster.manager, asRoot(cluster.manager, command), stdin === undefined ? {} : { stdin });

const swarmState = async (host: Host) =>
  (await sshOk(host, asRoot(host, "docker info --format '{{.Swarm.LocalNodeState}}'"))).trim();

/** The oldest engine stack.yml runs on: its health checks' start_interval came with 25.0. */
export const MIN_ENGINE_MAJOR = 25;

/** Why a node's engine (`docker version`'s server version) cannot run the stack, or undefined when it can. */
export function engineTooOld(node: string, version: string): string | undefined {
  const major = Number(/^(\d+)\./.exec(version.trim())?.[1]);
  if (major >= MIN_ENGINE_MAJOR) return undefined;
  return (
    `${node} runs Docker Engine ${version.trim() || 'of an unknown version'}; the stack needs ${MIN_ENGINE_MAJOR} or later ` +
    `(its health checks' start_interval): install a newer engine there (Debian 13's docker.io is 26.1), then run this again`
  );
}

export interface InitOptions {
  manager: Host;
  workers: Host[];
  /** The manager's address the workers reach (default: the manager's SSH host). */
  advertiseAddr?: string;
  log: Log;
}

/**
 * Makes the manager a Swarm manager and the workers join it; servers already in the swarm
 * are left as they are, so running it again is harmless.
 */
export async function initCluster({ manager, workers, advertiseAddr = manager.host, log }: InitOptions) {
  const tooOld = await Promise.all(
    [manager, ...workers].map(async (host) =>
      engineTooOld(hostLabel(host), await sshOk(host, asRoot(host, "docker version --format '{{.Server.Version}}'"))),
    ),
  );
  const refusal = tooOld.filter((reason) => reason !== undefined);
  if (refusal.length > 0) throw new Error(refusal.join('; '));
  if ((await swarmState(manager)) !== 'active') {
    log(`${hostLabel(manager)}: docker swarm init (advertising ${advertiseAddr})`);
    await sshOk(manager, asRoot(manager, `docker swarm init --advertise-addr ${shellQuote(advertiseAddr)}`));
  } else log(`${hostLabel(manager)}: already in a swarm`);
  const token = (await sshOk(manager, asRoot(manager, 'docker swarm join-token -q worker'))).trim();
  await Promise.all(
    workers.map(async (worker) => {
      if ((await swarmState(worker)) === 'active') return log(`${hostLabel(worker)}: already in a swarm`);
      log(`${hostLabel(worker)}: joining`);
      await sshOk(
        worker,
        asRoot(worker, `docker swarm join --token ${shellQuote(token)} ${shellQuote(`${advertiseAddr}:2377`)}`),
      );
    }),
  );
}

export interface NodeInfo {
  id: string;
  hostname: string;
  /** The address the node reaches the swarm from (its SSH host in the simulated cluster). */
  addr: string;
  state: string;
  labels: Record<string, string>;
}

export async function nodes(cluster: Cluster): Promise<NodeInfo[]> {
  const ids = (await onManager(cluster, 'docker node ls -q')).split('\n').filter(Boolean);
  const json = await onManager(cluster, `docker node inspect ${ids.map(shellQuote).join(' ')}`);
  return (
    JSON.parse(json) as Array<{
      ID: string;
      Description: { Hostname: string };
      Status: { Addr: string; State: string };
      Spec: { Labels?: Record<string, string> };
      ManagerStatus?: { Addr?: string };
    }>
  ).map((node) => ({
    id: node.ID,
    hostname: node.Description.Hostname,
    // A manager reports 0.0.0.0 as Status.Addr; its advertised address is in ManagerStatus.
    addr:
      node.Status.Addr === '0.0.0.0' && node.ManagerStatus?.Addr
        ? node.ManagerStatus.Addr.replace(/:\d+$/, '')
        : node.Status.Addr,
    state: node.Status.State,
    labels: node.Spec.Labels ?? {},
  }));
}

/** The SSH address of every node, with the manager's user and key. */
export const nodeHosts = async (cluster: Cluster) =>
  (await nodes(cluster)).map((node) =>
    parseHost(`${cluster.manager.user}@${node.addr}`, {
      identity: cluster.manager.identity,
      knownHosts: cluster.manager.knownHosts,
    }),
  );

const LABEL = /^[a-z0-9][a-z0-9._-]*=[A-Za-z0-9._-]*$/;

/** Sets labels (key=value) on a node by its hostname or id. */
export async function labelNode(cluster: Cluster, node: string, labels: string[]): Promise<void> {
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined) throw new Error(`label "${bad}" is not key=value (e.g. webstack.edge=true)`);
  if (labels.length === 0) throw new Error('give at least one label, e.g. webstack.edge=true');
  await onManager(
    cluster,
    `docker node update ${labels.map((label) => `--label-add ${shellQuote(label)}`).join(' ')} ${shellQuote(node)}`,
  );
}

/** Every service of the stack with its running and wanted task count, as `docker service ls` says. */
export async function serviceReplicas(
  cluster: Cluster,
): Promise<Array<{ name: string; running: number; wanted: number }>> {
  const listing = await onManager(
    cluster,
    `docker service ls --filter label=com.docker.stack.namespace=${shellQuote(cluster.stack)} --format '{{.Name}} {{.Replicas}}'`,
  );
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', replicas = ''] = line.split(' ');
      const [running = 0, wanted = -1] = replicas.split('/').map(Number);
      return { name, running, wanted };
    });
}

/** Each service of the stack with the state of its last update ('' when it never had one). */
async function updateStates(cluster: Cluster): Promise<Array<{ name: string; state: string }>> {
  const listing = await onManager(
    cluster,
    `docker service inspect --format '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' $(docker service ls -q --filter label=com.docker.stack.namespace=${shellQuote(cluster.stack)})`,
  );
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', state = ''] = line.split(' ');
      return { name, state };
    });
}

/**
 * Waits until every service of the stack runs all the tasks it wants (healthy ones, for
 * health-checked services) and no rolling update is under way.
 */
export async function waitConverged(cluster: Cluster, timeoutMs = 300_000): Promise<void> {
  await waitFor(
    `every service of stack ${cluster.stack} runs all its tasks`,
    async () => {
      const states = await updateStates(cluster);
      const stuck = states.find((s) => s.state === 'paused' || s.state === 'rollback_paused');
      if (stuck)
        throw new GiveUp(`the update of ${stuck.name} stopped half-way (${stuck.state}): see scripts/cluster status`);
      if (states.some((s) => s.state === 'updating' || s.state === 'rollback_started')) return false;
      const services = await serviceReplicas(cluster);
      return services.length > 0 && services.every((s) => s.wanted > 0 && s.running === s.wanted);
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** The running tasks of a service, one line each: `name node state`. */
export async function runningTasks(cluster: Cluster, name: 'app' | 'nginx' | 'db') {
  const listing = await onManager(
    cluster,
    `docker service ps --filter desired-state=running --format '{{.Name}} {{.Node}} {{.CurrentState}}' ${service(cluster, name)}`,
  );
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [task = '', node = '', ...state] = line.split(' ');
      return { task, node, state: state.join(' ') };
    });
}

interface UpdateStatus {
  State?: string;
  StartedAt?: string;
  Message?: string;
}

async function inspectService(cluster: Cluster, name: string) {
  const [spec] = JSON.parse(await onManager(cluster, `docker service inspect ${shellQuote(name)}`)) as Array<{
    UpdateStatus?: UpdateStatus;
  }>;
  if (!spec) throw new Error(`no service ${name} on the cluster`);
  return spec;
}

export interface UpdateOutcome {
  /** completed or rollback_completed (Swarm's own words). */
  state: string;
  message: string;
  ms: number;
}

/**
 * Runs a change of a service (`docker service update|rollback -d ...`) and waits until
 * Swarm has finished with it: updated, or rolled back by itself after a failure.
 */
export async function changeService(
  cluster: Cluster,
  name: string,
  command: string,
  timeoutMs = 600_000,
): Promise<UpdateOutcome> {
  // The status of the previous update, if any, stays until this one begins.
  const previous = (await inspectService(cluster, name)).UpdateStatus?.StartedAt;
  const started = Date.now();
  await onManager(cluster, command);
  const status = await waitFor(
    `Swarm finishes updating ${name}`,
    async () => {
      const status = (await inspectService(cluster, name)).UpdateStatus;
      if (!status?.State || status.StartedAt === previous) return false;
      if (status.State === 'paused' || status.State === 'rollback_paused') {
        throw new GiveUp(`the update of ${name} stopped half-way (${status.State}): ${status.Message ?? ''}`);
      }
      return status.State === 'completed' || status.State === 'rollback_completed' ? status : false;
    },
    { timeoutMs, intervalMs: 1000 },
  );
  return { state: status.State ?? '', message: status.Message ?? '', ms: Date.now() - started };
}
