// scripts/cluster: the stack on Docker Swarm across servers reached over SSH.
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { wholeNumber } from '../core/args.js';
import { imagesOf, loadEnv } from '../core/env.js';
import { parseHost } from '../remote/ssh.js';
import { clusterStatus, deployStack, liveApp, rollbackApp, scaleApp, ship, updateApp } from './stack.js';
import { initCluster, labelNode, STACK, type Cluster } from './swarm.js';

export const clusterUsage = `usage: scripts/cluster SUBCOMMAND --manager USER@HOST [--identity KEY] [--known-hosts FILE]
  init --worker USER@HOST ... [--advertise-addr IP]
                       make the manager a Swarm manager and the workers join it (again: harmless)
  label NODE KEY=VALUE ...
                       label a node: webstack.edge=true (runs nginx, 80/443), webstack.db=true
                       (the database and its volume), webstack.zone=Z (app replicas spread over zones)
  ship [IMAGE ...]     send the stack's images (default: app, nginx, database of IMAGE_TAG) to every node
                       (compressed unless CLUSTER_SHIP_COMPRESS=false)
  deploy [--image REF] [--replicas N] [--domain www.D] [--state DIR]
                       passwords as secrets, the local CA's certificate, docker stack deploy; waits until all runs.
                       Again: the app keeps the image and replica count it runs unless they are given
  scale N              run N app replicas
  update --image REF   ship REF and roll the app replicas onto it one by one; rolls back by itself on failure
  rollback             back to the app's previous image, the same rolling way
  status               nodes, services and where every task runs`;

/** Settings stack.yml takes from .env or the environment, as docker-compose.yml does. */
const PASSED_THROUGH = [
  'RATE_LIMIT_WRITES',
  'RATE_LIMIT_WRITES_BURST',
  'RATE_LIMIT_READS',
  'RATE_LIMIT_READS_BURST',
  'LOG_LEVEL',
  'DB_POOL_SIZE',
];

const common = {
  manager: { type: 'string' },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
} as const;

function clusterFrom(values: { manager?: string; identity?: string; 'known-hosts'?: string }): Cluster {
  if (!values.manager) throw new Error('--manager USER@HOST is required (the Swarm manager, reached over SSH)');
  return {
    manager: parseHost(values.manager, { identity: values.identity, knownHosts: values['known-hosts'] }),
    stack: STACK,
    log: (line) => console.log(line),
  };
}

export async function cluster([sub = '', ...args]: string[]): Promise<void> {
  const env = loadEnv();
  const images = imagesOf(env);
  // Compressing the image stream pays on a slow link, and only costs CPU on a fast one.
  const compress = env.CLUSTER_SHIP_COMPRESS !== 'false';
  switch (sub) {
    case 'init': {
      const { values } = parseArgs({
        args,
        options: { ...common, worker: { type: 'string', multiple: true }, 'advertise-addr': { type: 'string' } },
      });
      const c = clusterFrom(values);
      const workers = (values.worker ?? []).map((w) =>
        parseHost(w, { identity: values.identity, knownHosts: values['known-hosts'] }),
      );
      await initCluster({ manager: c.manager, workers, advertiseAddr: values['advertise-addr'], log: c.log });
      return;
    }
    case 'label': {
      const { values, positionals } = parseArgs({ args, options: common, allowPositionals: true });
      const [node, ...labels] = positionals;
      if (!node) throw new Error('scripts/cluster label NODE KEY=VALUE ... (NODE: hostname or id from status)');
      await labelNode(clusterFrom(values), node, labels);
      return;
    }
    case 'ship': {
      const { values, positionals } = parseArgs({ args, options: common, allowPositionals: true });
      const refs = positionals.length > 0 ? positionals : [images.app, images.nginx, images.mysql];
      for (const result of await ship(clusterFrom(values), refs, compress)) {
        console.log(`sent ${result.sent.join(', ') || 'nothing'} in ${(result.ms / 1000).toFixed(1)} s`);
      }
      return;
    }
    case 'deploy': {
      const { values } = parseArgs({
        args,
        options: {
          ...common,
          image: { type: 'string' },
          replicas: { type: 'string' },
          domain: { type: 'string' },
          state: { type: 'string' },
        },
      });
      const c = clusterFrom(values);
      // A deploy that changes settings must not undo `update` or `scale`.
      const live = await liveApp(c);
      const { ca } = await deployStack(c, {
        release: { app: values.image ?? live?.image ?? images.app, nginx: images.nginx, mysql: images.mysql },
        stateDir: values.state ?? path.join(homedir(), '.webstack', 'cluster'),
        siteDomain: values.domain ?? env.SITE_DOMAIN ?? 'www.foobar.com',
        appReplicas: wholeNumber('replicas', values.replicas, live?.replicas ?? 3),
        // As with docker-compose.yml, .env or the environment may set these.
        env: Object.fromEntries(PASSED_THROUGH.flatMap((name) => (env[name] ? [[name, env[name]]] : []))),
      });
      console.log(`deployed; the local CA that signed the site's certificate:\n${ca}`);
      return;
    }
    case 'scale': {
      const { values, positionals } = parseArgs({ args, options: common, allowPositionals: true });
      if (positionals[0] === undefined) throw new Error('scripts/cluster scale N: how many app replicas');
      await scaleApp(clusterFrom(values), wholeNumber('replicas', positionals[0], 1));
      return;
    }
    case 'update': {
      const { values } = parseArgs({ args, options: { ...common, image: { type: 'string' } } });
      if (!values.image) throw new Error('--image REF is required: the app image to roll out');
      const outcome = await updateApp(clusterFrom(values), values.image, compress);
      console.log(`${outcome.state} in ${(outcome.ms / 1000).toFixed(0)} s ${outcome.message}`);
      if (outcome.state !== 'completed') process.exitCode = 1;
      return;
    }
    case 'rollback': {
      const { values } = parseArgs({ args, options: common });
      const outcome = await rollbackApp(clusterFrom(values));
      console.log(`${outcome.state} in ${(outcome.ms / 1000).toFixed(0)} s ${outcome.message}`);
      return;
    }
    case 'status': {
      const { values } = parseArgs({ args, options: common });
      console.log(await clusterStatus(clusterFrom(values)));
      return;
    }
    case '--help':
    case 'help':
      console.log(clusterUsage);
      return;
    default:
      throw new Error(`unknown subcommand "${sub}"\n${clusterUsage}`);
  }
}
