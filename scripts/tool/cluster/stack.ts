// The stack on a Swarm: ship images to the nodes, keep the passwords and the certificate as
// Docker secrets and configs, deploy stack.yml, scale, update and roll back the app.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { certInfo, replaceReason } from '../../../nginx/certs/src/cert-info.js';
import { siteNames } from '../../../nginx/certs/src/domain.js';
import { issueLocal } from '../../../nginx/certs/src/local-ca.js';
import { CertStore } from '../../../nginx/certs/src/store.js';
import { parse } from 'yaml';
import { composeService } from '../core/compose.js';
import { REPO_ROOT } from '../core/paths.js';
import { GiveUp, waitFor } from '../core/wait.js';
import { shellQuote } from '../remote/ssh.js';
import { shipImages, type ShipResult } from '../remote/ship.js';
import {
  changeService,
  nodeHosts,
  onManager,
  service,
  waitConverged,
  type Cluster,
  type UpdateOutcome,
} from './swarm.js';

/** Files `docker stack deploy` reads, relative to the repo (configs are named by their content). */
const STACK_FILE = 'scripts/tool/cluster/stack.yml';
const CONFIG_FILES = [
  'scripts/tool/cluster/nginx/upstream.conf',
  'scripts/tool/cluster/nginx/follow-app-tasks.sh',
  'db/conf/webstack.cnf',
  'scripts/tool/cluster/nginx/acme-issuer.conf',
];
/** Where the manager keeps its copy of them. */
const REMOTE_DIR = '/srv/webstack-cluster';

const version = (...contents: string[]) => createHash('sha256').update(contents.join('\0')).digest('hex').slice(0, 12);

export interface Release {
  /** Images the nodes run, as shipped (e.g. webstack/app:TAG). */
  app: string;
  nginx: string;
  mysql: string;
  /** The migration runner, run once on the manager before the app starts or changes. */
  migrate: string;
  /** The certificate manager, run on the manager as the ACME issuer when ACME is on. */
  certs: string;
}

/** Where the manager keeps its copy of the app's folder of SQL files. */
const MIGRATIONS = 'app/migrations';
const MIGRATE_SERVICE = (cluster: Cluster) => `${cluster.stack}_migrate`;

/**
 * The schema, before the app starts or changes: the migrate image once, as a Swarm job on the
 * manager (where the copy of the app's SQL files is), on the stack's network, with the app's
 * database settings from stack.yml. Throws with the runner's log when it fails: the caller
 * then leaves the app as it is.
 */
export async function runMigrations(
  cluster: Cluster,
  image: string,
  migrations: string,
  timeoutMs = 300_000,
): Promise<void> {
  const dir = `${REMOTE_DIR}/${MIGRATIONS}`;
  await onManager(cluster, `rm -rf ${shellQuote(dir)} && mkdir -p ${shellQuote(dir)}`);
  for (const file of readdirSync(migrations).filter((f) => f.endsWith('.sql')))
    await onManager(
      cluster,
      `cat > ${shellQuote(`${dir}/${file}`)}`,
      readFileSync(path.join(migrations, file), 'utf8'),
    );
  const app = (
    parse(readFileSync(path.join(REPO_ROOT, STACK_FILE), 'utf8')) as {
      services: { app: { environment: Record<string, string> } };
    }
  ).services.app;
  const settings = Object.entries(app.environment).filter(
    ([name]) => name.startsWith('DB_') && name !== 'DB_POOL_SIZE',
  );
  const name = MIGRATE_SERVICE(cluster);
  // The job runs the image as the compose service does: its command and user are defined there.
  const migrate = composeService('migrate');
  await onManager(cluster, `docker service rm ${name} >/dev/null 2>&1 || true`);
  cluster.log(`running the migrations (${image}) on the manager`);
  await runJob(
    cluster,
    name,
    [
      `--network ${cluster.stack}_backend --constraint node.role==manager`,
      '--secret source=webstack_db_password,target=db_password',
      `--mount type=bind,source=${shellQuote(dir)},target=/migrations,readonly`,
      '--read-only --cap-drop ALL',
      ...(migrate.user ? [`--user ${shellQuote(migrate.user)}`] : []),
      ...settings.map(([key, value]) => `--env ${shellQuote(`${key}=${value}`)}`),
      shellQuote(image),
      ...(migrate.command ?? []).map(shellQuote),
    ],
    { what: 'the migrations', failed: 'the app was not changed', timeoutMs },
  );
}

/**
 * A one-off task as a Swarm job on the stack's network (`options`: docker service create's
 * flags, image and command): waits until it ends, throws with its log when it did not
 * complete (saying `failed`, what that left as it was), and removes it either way.
 */
async function runJob(
  cluster: Cluster,
  name: string,
  options: string[],
  { what, failed, timeoutMs }: { what: string; failed: string; timeoutMs: number },
): Promise<void> {
  await onManager(
    cluster,
    [
      'docker service create --detach=true --quiet --mode replicated-job --restart-condition none',
      `--name ${name}`,
      ...options,
    ].join(' '),
  );
  try {
    const state = await waitFor(
      `${what} ended`,
      async () => {
        const [latest = ''] = (
          await onManager(cluster, `docker service ps --no-trunc --format '{{.CurrentState}}|{{.Error}}' ${name}`)
        ).split('\n');
        return /^(Complete|Failed|Rejected)/.test(latest) ? latest : false;
      },
      { timeoutMs, intervalMs: 1000 },
    );
    if (!state.startsWith('Complete')) {
      const log = await onManager(cluster, `docker service logs --raw ${name} 2>&1 || true`);
      throw new GiveUp(`${what} failed on the cluster (${state}); ${failed}:\n${log.trim()}`);
    }
  } finally {
    await onManager(cluster, `docker service rm ${name} >/dev/null 2>&1 || true`);
  }
}

/** Sends images to every node that lacks them, all nodes at once. */
export async function ship(cluster: Cluster, refs: string[], compress = true): Promise<ShipResult[]> {
  const hosts = await nodeHosts(cluster);
  return Promise.all(hosts.map((host) => shipImages(host, refs, { log: cluster.log, compress })));
}

async function secretExists(cluster: Cluster, kind: 'secret' | 'config', name: string) {
  const names = await onManager(cluster, `docker ${kind} ls --format '{{.Name}}'`);
  return names.split('\n').includes(name);
}

/** Creates a secret or config from text once; Swarm's are immutable, so a new content gets a new name. */
async function ensureObject(cluster: Cluster, kind: 'secret' | 'config', name: string, content: string) {
  if (await secretExists(cluster, kind, name)) return;
  await onManager(cluster, `docker ${kind} create ${shellQuote(name)} -`, content);
}

/** The database passwords: made once, on the cluster only (never in a file here or in the environment). */
async function ensurePasswords(cluster: Cluster) {
  for (const name of ['webstack_db_password', 'webstack_db_root_password']) {
    if (!(await secretExists(cluster, 'secret', name))) {
      cluster.log(`creating secret ${name}`);
      await ensureObject(cluster, 'secret', name, randomBytes(24).toString('base64url'));
    }
  }
}

/** What nginx serves: stack.yml's site_* secret and configs, named by the certificate's hash. */
interface SiteCertificate {
  fullchain: string;
  key: string;
  chain: string;
  hsts: string;
}
const CERT_FILES = ['fullchain.pem', 'privkey.pem', 'chain.pem', 'hsts.conf'] as const;
const asCertificate = ([fullchain = '', key = '', chain = '', hsts = '']: string[]): SiteCertificate => ({
  fullchain,
  key,
  chain,
  hsts,
});

/** Creates the key's secret and the configs of a certificate once; returns its hash (CERT_VERSION). */
async function publishCertificate(cluster: Cluster, cert: SiteCertificate): Promise<string> {
  const certVersion = version(cert.fullchain, cert.key);
  await ensureObject(cluster, 'secret', `webstack_site_privkey_${certVersion}`, cert.key);
  await ensureObject(cluster, 'config', `webstack_site_fullchain_${certVersion}`, cert.fullchain);
  await ensureObject(cluster, 'config', `webstack_site_chain_${certVersion}`, cert.chain);
  await ensureObject(cluster, 'config', `webstack_site_hsts_${certVersion}`, cert.hsts);
  return certVersion;
}

/**
 * The cluster's ACME issuer: nginx/certs' issue.ts as a one-off job on the manager, the
 * only writer of the certificate store kept there. Every edge proxies the challenge path to
 * it by this service name and port (the cluster's nginx/acme-issuer.conf).
 */
const ISSUER = { service: (cluster: Cluster) => `${cluster.stack}_certs`, store: `${REMOTE_DIR}/certs` };

/** The certificate the issuer last put in the manager's store, or undefined before its first. */
async function issuedCertificate(cluster: Cluster): Promise<SiteCertificate | undefined> {
  const listing = await onManager(
    cluster,
    `cd ${ISSUER.store}/current 2>/dev/null && for f in ${CERT_FILES.join(' ')}; do base64 -w0 "$f"; echo; done || true`,
  );
  const cert = asCertificate(listing.split('\n').map((line) => Buffer.from(line, 'base64').toString('utf8')));
  return cert.fullchain && cert.key ? cert : undefined;
}

/**
 * The site's certificate, published as stack.yml's secret and configs: with ACME on, the
 * one the issuer last got, if any; else (and until then) the local CA's kept in `stateDir`
 * (made on first use). Returns its hash (CERT_VERSION) and, for the local CA's, the CA
 * certificate clients must trust.
 */
export async function ensureCertificate(cluster: Cluster, stateDir: string, siteDomain: string, acme = false) {
  const issued = acme ? await issuedCertificate(cluster) : undefined;
  if (issued) return { certVersion: await publishCertificate(cluster, issued), ca: undefined };
  const names = siteNames(siteDomain);
  const store = new CertStore(path.join(stateDir, 'certs'), 0);
  if (!(await store.current())) {
    cluster.log(`issuing a certificate for ${names.canonical} from the local CA in ${stateDir}`);
    await store.install(
      await issueLocal(store, { dns: [names.canonical, names.apex, 'localhost'], ip: ['127.0.0.1'] }, 90),
    );
  }
  const files = await Promise.all(CERT_FILES.map(async (file) => (await store.read('current', file)) ?? ''));
  return {
    certVersion: await publishCertificate(cluster, asCertificate(files)),
    ca: (await store.read('local-ca', 'ca.pem')) ?? '',
  };
}

/**
 * The issuer once, as a job: an ACME order for the site's names, answered through every
 * edge. One issuer at a time: the job has a fixed service name, and the manager refuses to
 * create a second service of that name while one exists (an ended one a crashed run left
 * behind is removed first; a running one is left alone and the renewal refused).
 */
async function runIssuer(cluster: Cluster, image: string, acme: Record<string, string>): Promise<void> {
  const name = ISSUER.service(cluster);
  const states = (
    await onManager(cluster, `docker service ps --format '{{.CurrentState}}' ${name} 2>/dev/null || true`)
  )
    .split('\n')
    .filter(Boolean);
  if (states.some((state) => !/^(Complete|Failed|Rejected|Shutdown)/.test(state)))
    throw new GiveUp(`an issuer is at work already (service ${name}: ${states[0]}); try again once it has ended`);
  if (states.length > 0) await onManager(cluster, `docker service rm ${name} >/dev/null`);
  const nodeId = (await onManager(cluster, "docker info --format '{{.Swarm.NodeID}}'")).trim();
  await onManager(cluster, `mkdir -p -m 700 ${ISSUER.store}`);
  const env = {
    ...acme,
    CERTS_DIR: '/certs',
    ACME_WEBROOT: '/tmp/acme-challenge',
    EDGE_TASKS: `tasks.${service(cluster, 'nginx')}`,
  };
  cluster.log(`ordering a certificate for ${acme.SITE_DOMAIN} (${image}, on the manager)`);
  await runJob(
    cluster,
    name,
    [
      `--network ${cluster.stack}_backend --endpoint-mode dnsrr --constraint node.id==${nodeId}`,
      `--mount type=bind,source=${ISSUER.store},target=/certs`,
      '--read-only --mount type=tmpfs,target=/tmp --cap-drop ALL',
      ...Object.entries(env).map(([key, value]) => `--env ${shellQuote(`${key}=${value}`)}`),
      shellQuote(image),
      'node certs/dist/issue.js',
    ],
    { what: 'the ACME order', failed: 'the edges keep serving the certificate they have', timeoutMs: 300_000 },
  ).catch((err: Error) => {
    if (/already exists|name conflicts/.test(err.message))
      throw new GiveUp(`another issuer started meanwhile (service ${name}); try again once it has ended`);
    throw err;
  });
}

/** Where nginx reads the certificate (stack.yml's targets of the site_* secret and configs). */
const CERT_TARGETS = '/etc/nginx/certs/current/';

/**
 * Moves nginx onto the certificate of `certVersion`: each site_* secret and config replaced
 * by the new version's (same file, owner and mode) in one service update, which Swarm rolls
 * over the edges one at a time (stack.yml). Undefined when nginx has that version already.
 */
async function rollOutCertificate(cluster: Cluster, certVersion: string): Promise<UpdateOutcome | undefined> {
  const name = service(cluster, 'nginx');
  type Reference = {
    SecretName?: string;
    ConfigName?: string;
    File?: { Name: string; UID: string; GID: string; Mode: number };
  };
  const spec = JSON.parse(
    await onManager(cluster, `docker service inspect --format '{{json .Spec.TaskTemplate.ContainerSpec}}' ${name}`),
  ) as { Secrets?: Reference[]; Configs?: Reference[] };
  const flags = (
    [
      ['secret', spec.Secrets ?? []],
      ['config', spec.Configs ?? []],
    ] as const
  ).flatMap(([kind, references]) =>
    references.flatMap(({ SecretName, ConfigName, File: file }) => {
      const old = SecretName ?? ConfigName ?? '';
      const fresh = old.replace(/_[0-9a-f]{12}$/, `_${certVersion}`);
      if (!file?.Name.startsWith(CERT_TARGETS) || fresh === old) return [];
      const target = `source=${fresh},target=${file.Name},uid=${file.UID},gid=${file.GID},mode=0${file.Mode.toString(8)}`;
      return [`--${kind}-rm ${shellQuote(old)}`, `--${kind}-add ${shellQuote(target)}`];
    }),
  );
  if (flags.length === 0) return undefined;
  cluster.log(`rolling certificate ${certVersion} out to ${name}, one edge at a time`);
  return changeService(cluster, name, `docker service update --detach=true ${flags.join(' ')} ${name}`);
}

/**
 * With ACME on: a new certificate when the one the issuer got is missing or due (two thirds
 * of its life, or a name it lacks), or always with `force`; then a new secret version rolled
 * out to the edges. Says what it did; throws, leaving the edges as they were, when it failed.
 */
export async function renewCertificate(
  cluster: Cluster,
  image: string,
  acme: Record<string, string>,
  force = false,
): Promise<string> {
  const names = siteNames(acme.SITE_DOMAIN ?? '');
  const current = await issuedCertificate(cluster);
  const reason = force
    ? 'asked to'
    : current
      ? replaceReason(current.fullchain, [names.canonical, names.apex])
      : 'none from the CA yet';
  if (!reason) return `not due: the certificate renews after ${certInfo(current!.fullchain).renewAt.toISOString()}`;
  cluster.log(`getting a new certificate: ${reason}`);
  const started = Date.now();
  await runIssuer(cluster, image, acme);
  const orderedMs = Date.now() - started;
  const issued = await issuedCertificate(cluster);
  if (!issued) throw new GiveUp('the issuer ended without leaving a certificate in the store');
  const outcome = await rollOutCertificate(cluster, await publishCertificate(cluster, issued));
  if (outcome && outcome.state !== 'completed')
    throw new GiveUp(
      `nginx did not take the new certificate (${outcome.state}: ${outcome.message}); the edges serve the one they had`,
    );
  const info = certInfo(issued.fullchain);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  return `renewed (${reason}): ${info.names.join(', ')} from ${info.issuer}, valid until ${info.notAfter.toISOString()}; ordered in ${seconds(orderedMs)}, on every edge ${outcome ? `in ${seconds(outcome.ms)}` : 'already'} (${seconds(Date.now() - started)} in all)`;
}

export interface DeployOptions {
  release: Release;
  /** The app's folder of SQL files here (docker-compose.yml's APP_MIGRATIONS). */
  migrations: string;
  stateDir: string;
  siteDomain: string;
  appReplicas: number;
  /** Extra variables for stack.yml (rate limits, LOG_LEVEL). */
  env?: Record<string, string>;
  /** The issuer's settings (settings.ts' acmeSettings) when the certificate comes from an ACME CA. */
  acme?: Record<string, string>;
}

/** Passwords, certificate, the stack's files on the manager, `docker stack deploy`, then waits until it runs. */
export async function deployStack(cluster: Cluster, options: DeployOptions) {
  await ensurePasswords(cluster);
  const { certVersion, ca } = await ensureCertificate(
    cluster,
    options.stateDir,
    options.siteDomain,
    options.acme !== undefined,
  );
  const files = [STACK_FILE, ...CONFIG_FILES].map((file) => ({
    file,
    content: readFileSync(path.join(REPO_ROOT, file), 'utf8'),
  }));
  for (const { file, content } of files) {
    const target = `${REMOTE_DIR}/${file}`;
    await onManager(cluster, `mkdir -p ${shellQuote(path.dirname(target))} && cat > ${shellQuote(target)}`, content);
  }
  const variables: Record<string, string> = {
    ...options.env,
    APP_IMAGE_REF: options.release.app,
    NGINX_IMAGE_REF: options.release.nginx,
    MYSQL_IMAGE: options.release.mysql,
    APP_REPLICAS: String(options.appReplicas),
    SITE_DOMAIN: options.siteDomain,
    CERT_VERSION: certVersion,
    CONF_VERSION: version(...files.slice(1).map((f) => f.content)),
  };
  const assignments = Object.entries(variables)
    .map(([name, value]) => `${name}=${shellQuote(value)}`)
    .join(' ');
  cluster.log(`docker stack deploy ${cluster.stack} (app ${options.release.app} ×${options.appReplicas})`);
  await onManager(
    cluster,
    `cd ${REMOTE_DIR}/scripts/tool/cluster && env ${assignments} docker stack deploy --detach=true --prune --resolve-image never -c stack.yml ${shellQuote(cluster.stack)}`,
  );
  await waitConverged(cluster);
  // The first time the database comes with the stack: the app replicas (live, not yet ready)
  // wait for the schema meanwhile. Afterwards it is there already and this applies what is new.
  await runMigrations(cluster, options.release.migrate, options.migrations);
  // With ACME on, the CA reaches the edges now that they run: the first certificate, or a due one.
  const renewal = options.acme && (await renewCertificate(cluster, options.release.certs, options.acme));
  return { certVersion, ca, renewal };
}

/** The app service as it runs now (its image and replica count), or undefined before the first deploy. */
export async function liveApp(cluster: Cluster): Promise<{ image: string; replicas?: number } | undefined> {
  const spec = await onManager(
    cluster,
    `docker service inspect --format '{{json .Spec}}' ${service(cluster, 'app')} 2>/dev/null || true`,
  );
  if (!spec.trim()) return undefined;
  const parsed = JSON.parse(spec) as {
    TaskTemplate: { ContainerSpec: { Image: string } };
    Mode: { Replicated?: { Replicas?: number } };
  };
  return { image: parsed.TaskTemplate.ContainerSpec.Image, replicas: parsed.Mode.Replicated?.Replicas };
}

/** Sets the number of app replicas and waits until exactly that many run healthy. */
export async function scaleApp(cluster: Cluster, replicas: number): Promise<void> {
  cluster.log(`scaling ${service(cluster, 'app')} to ${replicas}`);
  await onManager(cluster, `docker service scale --detach=true ${service(cluster, 'app')}=${replicas}`);
  await waitConverged(cluster);
}

/**
 * Ships an app image to every node, runs the migrations, and rolls the replicas onto it one
 * by one (new task healthy first); Swarm rolls back by itself when a new task fails
 * (stack.yml). A failed migration stops it before any replica changes.
 */
export async function updateApp(
  cluster: Cluster,
  image: string,
  migrateImage: string,
  migrations: string,
  compress = true,
): Promise<UpdateOutcome> {
  await ship(cluster, [image, migrateImage], compress);
  await runMigrations(cluster, migrateImage, migrations);
  cluster.log(`updating ${service(cluster, 'app')} to ${image}`);
  return changeService(
    cluster,
    service(cluster, 'app'),
    `docker service update --detach=true --image ${shellQuote(image)} ${service(cluster, 'app')}`,
  );
}

/** Back to the app's previous spec (its image before the last update), the same rolling way. */
export async function rollbackApp(cluster: Cluster): Promise<UpdateOutcome> {
  cluster.log(`rolling ${service(cluster, 'app')} back`);
  return changeService(
    cluster,
    service(cluster, 'app'),
    `docker service rollback --detach=true ${service(cluster, 'app')}`,
  );
}

/** Nodes, services and where each task runs, as the manager sees them. */
export const clusterStatus = (cluster: Cluster) =>
  onManager(
    cluster,
    `docker node ls && echo && docker stack services ${shellQuote(cluster.stack)} && echo && docker stack ps --filter desired-state=running --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}' ${shellQuote(cluster.stack)}`,
  );
