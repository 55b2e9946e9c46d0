// scripts/cluster: the stack on Docker Swarm across servers reached over SSH.
import { homedir } from 'node:os';
import path from 'node:path';
import { wholeNumber } from '../core/args.js';
import type { Cluster } from '../cluster/swarm.js';
import { defineCommand, UsageError } from './define.js';

const common = {
  manager: {
    type: 'string',
    value: 'USER@HOST',
    help: "the Swarm manager, reached over SSH (default the deployment file's cluster.manager)",
  },
  identity: { type: 'string', value: 'KEY', help: 'the SSH key to log in with' },
  'known-hosts': { type: 'string', value: 'FILE', help: 'the known_hosts file SSH checks the servers against' },
} as const;

const domain = {
  type: 'string',
  value: 'www.D',
  help: "the site's name (default the deployment file's cluster.domain, else .env's SITE_DOMAIN)",
} as const;

const siteDomainOf = (values: { domain?: string }, section: { domain?: string } | undefined, env: NodeJS.ProcessEnv) =>
  values.domain ?? section?.domain ?? env.SITE_DOMAIN ?? 'www.foobar.com';

const deployFile = async () => (await import('../core/deployfile.js')).loadDeployFile();

async function settings() {
  const [{ imagesOf, loadEnv }, { appEnv }, { appMigrations }, { REPO_ROOT }, file] = await Promise.all([
    import('../core/env.js'),
    import('../core/deployfile.js'),
    import('../core/app.js'),
    import('../core/paths.js'),
    deployFile(),
  ]);
  // The app the deployment file names, unless the environment (or .env) names one itself.
  const env = appEnv(file?.cluster?.app, loadEnv());
  return {
    env,
    file,
    images: imagesOf(env),
    // The app's migrations run on the manager from here (read when a command needs them).
    migrations: () => appMigrations(env, REPO_ROOT),
    // Compressing the image stream pays on a slow link, and only costs CPU on a fast one.
    compress: env.CLUSTER_SHIP_COMPRESS !== 'false',
  };
}

/** The manager and how to reach it: the flags, else the deployment file's cluster section. */
async function clusterFrom(values: { manager?: string; identity?: string; 'known-hosts'?: string }): Promise<Cluster> {
  const [{ parseHost }, { STACK }, file] = await Promise.all([
    import('../remote/ssh.js'),
    import('../cluster/swarm.js'),
    deployFile(),
  ]);
  const section = file?.cluster;
  const manager = values.manager ?? section?.manager;
  if (!manager) throw new UsageError("give --manager USER@HOST, or manager: in the deployment file's cluster section");
  return {
    manager: parseHost(manager, {
      identity: values.identity ?? section?.identity,
      knownHosts: values['known-hosts'] ?? section?.['known-hosts'],
    }),
    stack: STACK,
    log: (line) => console.log(line),
  };
}

const stack = () => import('../cluster/stack.js');

export const cluster = {
  name: 'cluster',
  summary: 'the stack on Docker Swarm across servers reached over SSH',
  subcommands: [
    defineCommand({
      name: 'init',
      summary: 'make the manager a Swarm manager and the workers join it (again: harmless)',
      options: {
        ...common,
        worker: { type: 'string', value: 'USER@HOST', multiple: true, help: 'a server that joins as a worker' },
        'advertise-addr': { type: 'string', value: 'IP', help: 'the address the manager advertises to the workers' },
      },
      async run(values) {
        const c = await clusterFrom(values);
        const [{ parseHost }, { initCluster }] = await Promise.all([
          import('../remote/ssh.js'),
          import('../cluster/swarm.js'),
        ]);
        const workers = (values.worker ?? []).map((w) =>
          parseHost(w, { identity: c.manager.identity, knownHosts: c.manager.knownHosts }),
        );
        await initCluster({ manager: c.manager, workers, advertiseAddr: values['advertise-addr'], log: c.log });
      },
    }),
    defineCommand({
      name: 'label',
      summary: 'label a node: webstack.edge=true, webstack.db=true, webstack.zone=Z',
      args: 'NODE KEY=VALUE ...',
      options: common,
      details: `webstack.edge=true runs nginx (80/443), webstack.db=true the database and its volume,
webstack.zone=Z spreads the app replicas over zones. NODE: a hostname or id from status.`,
      async run(values, positionals) {
        const [node, ...labels] = positionals;
        if (!node) throw new UsageError('give the node and its labels: NODE KEY=VALUE ...');
        const { labelNode } = await import('../cluster/swarm.js');
        await labelNode(await clusterFrom(values), node, labels);
      },
    }),
    defineCommand({
      name: 'ship',
      summary: "send the stack's images (default: app, nginx, migrate, certs, database of IMAGE_TAG) to every node",
      args: '[IMAGE ...]',
      options: common,
      details: 'The images travel compressed unless CLUSTER_SHIP_COMPRESS=false.',
      async run(values, positionals) {
        const { images, compress } = await settings();
        const refs =
          positionals.length > 0 ? positionals : [images.app, images.nginx, images.migrate, images.certs, images.mysql];
        for (const result of await (await stack()).ship(await clusterFrom(values), refs, compress)) {
          console.log(`sent ${result.sent.join(', ') || 'nothing'} in ${(result.ms / 1000).toFixed(1)} s`);
        }
      },
    }),
    defineCommand({
      name: 'deploy',
      summary: 'passwords as secrets, the certificate (local CA, or ACME), docker stack deploy; waits until all runs',
      options: {
        ...common,
        image: { type: 'string', value: 'REF', help: "the app image (default: the one running, else IMAGE_TAG's)" },
        replicas: {
          type: 'string',
          value: 'N',
          help: "app replicas (default: as many as run, else the deployment file's cluster.replicas, else 3)",
        },
        domain,
        state: {
          type: 'string',
          value: 'DIR',
          help: 'where the secrets and the CA are kept (default ~/.webstack/cluster)',
        },
      },
      details: `Again: the app keeps the image and replica count it runs unless --image or --replicas is given.
With ACME_DIRECTORY or ACME_EMAIL set (.env or the environment, as for one server), the
local CA's certificate serves until the CA's first one, which the deploy then gets (see renew).`,
      async run(values) {
        const [{ env, images, file, migrations }, { acmeSettings, stackSettings }] = await Promise.all([
          settings(),
          import('../cluster/settings.js'),
        ]);
        const section = file?.cluster;
        const { deployStack, liveApp } = await stack();
        const c = await clusterFrom(values);
        // As with docker-compose.yml, .env or the environment may set these, over the file.
        const variables = stackSettings(section?.settings ?? {}, env, file?.file);
        // A deploy that changes settings must not undo `update` or `scale`.
        const live = await liveApp(c);
        const siteDomain = siteDomainOf(values, section, env);
        const { ca, renewal } = await deployStack(c, {
          release: {
            app: values.image ?? live?.image ?? images.app,
            nginx: images.nginx,
            mysql: images.mysql,
            migrate: images.migrate,
            certs: images.certs,
          },
          migrations: migrations(),
          stateDir: values.state ?? path.join(homedir(), '.webstack', 'cluster'),
          siteDomain,
          appReplicas: wholeNumber('replicas', values.replicas, live?.replicas ?? section?.replicas ?? 3),
          env: variables,
          acme: acmeSettings(env, siteDomain),
        });
        console.log(
          ca === undefined ? 'deployed' : `deployed; the local CA that signed the site's certificate:\n${ca}`,
        );
        if (renewal) console.log(`certificate: ${renewal}`);
      },
    }),
    defineCommand({
      name: 'renew',
      summary: 'with ACME on: a new certificate from the CA when due (or --force), rolled out to every edge',
      options: {
        ...common,
        domain,
        force: { type: 'boolean', default: false, help: 'renew even when the certificate is not due' },
      },
      details: `Due: none from the CA yet, a name it lacks, or two thirds of its lifetime gone. Run it
daily (cron, CI): when nothing is due it changes nothing. The edges keep serving the
certificate they have if the order or the roll-out fails.`,
      async run(values) {
        const [{ env, file, images }, { acmeSettings }] = await Promise.all([
          settings(),
          import('../cluster/settings.js'),
        ]);
        const acme = acmeSettings(env, siteDomainOf(values, file?.cluster, env));
        if (!acme)
          throw new UsageError(
            "ACME is off: set ACME_DIRECTORY or ACME_EMAIL (.env or the environment); the local CA's certificate needs no renew",
          );
        console.log(
          await (await stack()).renewCertificate(await clusterFrom(values), images.certs, acme, values.force),
        );
      },
    }),
    defineCommand({
      name: 'scale',
      summary: 'run N app replicas',
      args: 'N',
      options: common,
      async run(values, positionals) {
        if (positionals.length !== 1) throw new UsageError('give how many app replicas: scale N');
        const { scaleApp } = await stack();
        await scaleApp(await clusterFrom(values), wholeNumber('replicas', positionals[0], 1));
      },
    }),
    defineCommand({
      name: 'update',
      summary: 'ship REF and roll the app replicas onto it one by one; rolls back by itself on failure',
      options: {
        ...common,
        image: { type: 'string', value: 'REF', required: true, help: 'the app image to roll out' },
      },
      async run(values) {
        const { compress, images, migrations } = await settings();
        const outcome = await (
          await stack()
        ).updateApp(await clusterFrom(values), values.image, images.migrate, migrations(), compress);
        console.log(`${outcome.state} in ${(outcome.ms / 1000).toFixed(0)} s ${outcome.message}`);
        if (outcome.state !== 'completed') process.exitCode = 1;
      },
    }),
    defineCommand({
      name: 'rollback',
      summary: "back to the app's previous image, the same rolling way",
      options: common,
      async run(values) {
        const outcome = await (await stack()).rollbackApp(await clusterFrom(values));
        console.log(`${outcome.state} in ${(outcome.ms / 1000).toFixed(0)} s ${outcome.message}`);
      },
    }),
    defineCommand({
      name: 'status',
      summary: 'nodes, services and where every task runs',
      options: common,
      async run(values) {
        console.log(await (await stack()).clusterStatus(await clusterFrom(values)));
      },
    }),
  ],
};
