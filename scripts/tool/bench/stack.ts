import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { appIsReady } from '../core/app.js';
import { docker, execOk, findServiceContainer, publishedPort, removeContainer } from '../core/docker.js';
import { REPO_ROOT } from '../core/paths.js';
import { sqlAsRoot } from '../core/sql.js';
import { startStack } from '../testing/stack.js';
import { waitFor } from '../core/wait.js';

/** The stock-config nginx, over TLS like ours. */
export const BARE_NGINX_PORT = 8443;
export const SECOND_APP_PORT = 5001;
export const TWO_APPS_NGINX_PORT = 8082;
/** The logging-off control: an app with LOG_LEVEL=silent, and an nginx with access_log off in front of it. */
export const UNLOGGED_APP_PORT = 5002;
export const UNLOGGED_NGINX_PORT = 8083;
/** An app with METRICS_ENABLED=false: what metrics and Server-Timing cost. */
export const UNMETERED_APP_PORT = 5003;
/** An nginx like the live one but without the status log (STATUS_LOG unset): what that log costs. */
export const NO_STATUS_LOG_NGINX_PORT = 8084;
/** A minimal Fastify + mysql2 server with the app's query: what the app's own work costs. */
export const BARE_FASTIFY_PORT = 5004;
/** The Gunicorn example app (Flask + PyMySQL), and a copy of the live nginx in front of it. */
export const GUNICORN_PORT = 5005;
export const GUNICORN_NGINX_PORT = 8085;
export const GUNICORN_EXAMPLE = path.join(REPO_ROOT, 'examples/gunicorn');
/** The example's table, in a database of the bench's own that it drops after: the stack's schema stays as it was. */
const GUESTBOOK_DATABASE = 'webstack_bench_guestbook';
/** Entries copied from the seeded posts: more than a page of them. */
const GUESTBOOK_ENTRIES = 1_000;
const BARE_NGINX_CONF = path.join(REPO_ROOT, 'scripts/tool/bench/bare-nginx.conf');
const BARE_FASTIFY = path.join(REPO_ROOT, 'scripts/tool/bench/bare-fastify.mjs');

export interface StackOptions {
  /** Compose project: used as it is when it runs, else brought up from docker-compose.yml. */
  project: string;
  /** Build the images when bringing the stack up (false: they must exist). */
  build: boolean;
  /** Leave a stack this run brought up running afterwards. */
  keep: boolean;
  /** Where the images and IMAGE_TAG come from (.env and the process environment). */
  env: NodeJS.ProcessEnv;
  nginxBaseImage: string;
  log: (line: string) => void;
}

export interface BenchStack {
  server: Docker.Container;
  db: Docker.Container;
  app: Docker.Container;
  nginx: Docker.Container;
  /** Host port on 127.0.0.1 where the server publishes nginx's HTTPS port 443. */
  publishedPort: number;
  /** `NetworkMode` that joins the server's namespace. */
  namespace: string;
  /** A stock nginx in the namespace on BARE_NGINX_PORT (HTTPS, the site's certificate), serving app/public. */
  startBareNginx(): Promise<Docker.Container>;
  /** A second app process on SECOND_APP_PORT, and an nginx on TWO_APPS_NGINX_PORT balancing both. */
  startSecondApp(): Promise<{ app: Docker.Container; nginx: Docker.Container }>;
  stopSecondApp(): Promise<void>;
  /** The control with logging off: an app on UNLOGGED_APP_PORT and an nginx on UNLOGGED_NGINX_PORT. */
  startUnlogged(): Promise<{ app: Docker.Container; nginx: Docker.Container }>;
  /** The same app image and environment on UNMETERED_APP_PORT, without metrics or Server-Timing. */
  startUnmeteredApp(): Promise<Docker.Container>;
  /** The live nginx's copy on NO_STATUS_LOG_NGINX_PORT without the status log, in front of the live app. */
  startNginxWithoutStatusLog(): Promise<Docker.Container>;
  /** The bare Fastify server on BARE_FASTIFY_PORT, from the app's image with its environment and Node.js flags. */
  startBareFastify(): Promise<Docker.Container>;
  /**
   * The Gunicorn example from `image` on GUNICORN_PORT, its entries copied from the posts,
   * and an nginx like the live one on GUNICORN_NGINX_PORT in front of it.
   */
  startGunicorn(image: string): Promise<{ app: Docker.Container; nginx: Docker.Container }>;
  close(): Promise<void>;
}

const SERVICES = ['server', 'db', 'app', 'nginx'] as const;

async function runningServices(project: string) {
  const found = await Promise.all(SERVICES.map((s) => findServiceContainer(project, s, { runningOnly: true })));
  const [server, db, app, nginx] = found;
  return server && db && app && nginx ? { server, db, app, nginx } : undefined;
}

/** Waits (bounded) until something in the container accepts TCP on 127.0.0.1:port. */
async function waitForPort(container: Docker.Container, port: number): Promise<void> {
  const probe = `for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && exit 0; sleep 0.1; done; exit 1`;
  await execOk(container, ['bash', '-c', probe]);
}

/** What the extra containers of one bench run share: the namespace they join, and cleanup. */
interface Extras {
  project: string;
  namespace: string;
  /** A container of the namespace with bash, to ask an app copy's /ready (appIsReady). */
  prober: Docker.Container;
  started: string[];
  tempDirs: string[];
  /** What else to undo at the end (in the database), in order. */
  cleanups: Array<() => Promise<void>>;
}

/** An extra process joined to the namespace like the stack's own services. */
async function startInNamespace(
  extras: Extras,
  name: string,
  spec: Omit<Docker.ContainerCreateOptions, 'name'>,
): Promise<Docker.Container> {
  await removeContainer(name);
  const container = await docker.createContainer({
    ...spec,
    name,
    Labels: { 'webstack.bench': extras.project },
    HostConfig: { ...spec.HostConfig, NetworkMode: extras.namespace },
  });
  await container.start();
  extras.started.push(container.id);
  return container;
}

async function startBareNginx(extras: Extras, image: string): Promise<Docker.Container> {
  const bare = await startInNamespace(extras, `${extras.project}-bare-nginx`, {
    Image: image,
    HostConfig: {
      Binds: [
        `${path.join(REPO_ROOT, 'app/public')}:/usr/share/nginx/html:ro`,
        `${BARE_NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro`,
        `${extras.project}_certs:/certs:ro`,
      ],
    },
  });
  await waitForPort(bare, BARE_NGINX_PORT);
  return bare;
}

/** `env` with the variables of `overrides` (NAME=value) replaced and those of `unset` left out. */
function withEnv(env: string[], overrides: string[], unset: string[] = []): string[] {
  const names = new Set([...overrides.map((e) => e.split('=')[0]), ...unset]);
  return [...env.filter((e) => !names.has(e.split('=')[0] as string)), ...overrides];
}

/** Waits (bounded) until an app process in the namespace answers its readiness check. */
async function untilReady(extras: Extras, app: Docker.Container, port: number, what: string): Promise<void> {
  await waitFor(`${what} on port ${port} is ready`, () => appIsReady(app, port, extras.prober), {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
}

/** Another process of the running app's image and environment on `port`, once ready. */
async function startAppCopy(extras: Extras, app: Docker.Container, name: string, port: number, env: string[] = []) {
  const appInfo = await app.inspect();
  const copy = await startInNamespace(extras, name, {
    Image: appInfo.Config.Image,
    Env: withEnv(appInfo.Config.Env, [`PORT=${port}`, ...env]),
  });
  await untilReady(extras, copy, port, 'the app copy');
  return copy;
}

/**
 * Another nginx with the running one's image, environment (the rate limits its templates
 * render at start) and configuration, listening on `port`: `upstream` rewrites the live
 * upstream server list, `main` (optional) nginx.conf, `unsetEnv` names variables left out.
 * Its stub_status server stays out (the live one has that port).
 */
async function startNginxCopy(
  extras: Extras,
  nginx: Docker.Container,
  name: string,
  port: number,
  upstream: (live: string) => string,
  { main, unsetEnv = [] }: { main?: (conf: string) => string; unsetEnv?: string[] } = {},
): Promise<Docker.Container> {
  const confDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-nginx-'));
  const upstreamDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-upstream-'));
  const siteDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-site-'));
  extras.tempDirs.push(confDir, upstreamDir, siteDir);
  const read = (file: string) => execOk(nginx, ['cat', file]);
  // The copy renders the site from the template at start: HTTPS on `port`, its port-80 server aside.
  // Only the template is replaced: the files it includes stay the image's.
  const template = await read('/etc/nginx/site/site.conf.template');
  const siteTemplate = path.join(siteDir, 'site.conf.template');
  writeFileSync(
    siteTemplate,
    template.replaceAll(/listen 443\b/g, `listen ${port}`).replaceAll(/listen 80\b/g, `listen ${port + 100}`),
  );
  for (const file of ['upstream.conf', 'tls.conf', 'status.conf']) {
    writeFileSync(path.join(confDir, file), await read(`/etc/nginx/conf.d/${file}`));
  }
  writeFileSync(path.join(upstreamDir, 'app-server.conf'), upstream(await read('/etc/nginx/upstream/app-server.conf')));
  const certs = (await nginx.inspect()).Mounts.find((m) => m.Destination === '/etc/nginx/certs');
  if (!certs?.Name) throw new Error('the nginx container has no certs volume');
  const binds = [
    `${confDir}:/etc/nginx/conf.d:ro`,
    `${upstreamDir}:/etc/nginx/upstream:ro`,
    `${siteTemplate}:/etc/nginx/site/site.conf.template:ro`,
    `${certs.Name}:/etc/nginx/certs:ro`,
  ];
  if (main) {
    const mainFile = path.join(confDir, '..', `${path.basename(confDir)}.nginx.conf`);
    writeFileSync(mainFile, main(await read('/etc/nginx/nginx.conf')));
    extras.tempDirs.push(mainFile);
    binds.push(`${mainFile}:/etc/nginx/nginx.conf:ro`);
  }
  const nginxInfo = await nginx.inspect();
  const copy = await startInNamespace(extras, name, {
    Image: nginxInfo.Config.Image,
    Env: withEnv(nginxInfo.Config.Env ?? [], [], unsetEnv),
    HostConfig: { Binds: binds },
  });
  await waitForPort(copy, port);
  return copy;
}

async function startSecondApp(extras: Extras, app: Docker.Container, nginx: Docker.Container) {
  const second = await startAppCopy(extras, app, `${extras.project}-app2`, SECOND_APP_PORT);
  const twoApps = await startNginxCopy(extras, nginx, `${extras.project}-nginx-n2`, TWO_APPS_NGINX_PORT, (live) => {
    const both = live.replace(/^(server 127\.0\.0\.1:\d+;)$/m, `$1\nserver 127.0.0.1:${SECOND_APP_PORT};`);
    // A silent no-op here would measure one app and call it two.
    if (both === live) throw new Error(`no upstream server line to extend in:\n${live}`);
    return both;
  });
  return { app: second, nginx: twoApps };
}

async function startUnlogged(extras: Extras, app: Docker.Container, nginx: Docker.Container) {
  const unlogged = await startAppCopy(extras, app, `${extras.project}-app-unlogged`, UNLOGGED_APP_PORT, [
    'LOG_LEVEL=silent',
  ]);
  const quietNginx = await startNginxCopy(
    extras,
    nginx,
    `${extras.project}-nginx-unlogged`,
    UNLOGGED_NGINX_PORT,
    () => `server 127.0.0.1:${UNLOGGED_APP_PORT};\n`,
    {
      main: (conf) => {
        const off = conf.replace(/^(\s*)access_log [^;]+;$/m, '$1access_log off;');
        if (off === conf) throw new Error('no access_log line to turn off in nginx.conf');
        return off;
      },
      unsetEnv: ['STATUS_LOG'],
    },
  );
  return { app: unlogged, nginx: quietNginx };
}

async function startNginxWithoutStatusLog(extras: Extras, nginx: Docker.Container) {
  // A silent no-op here would measure the status log against itself.
  if (!(await nginx.inspect()).Config.Env?.some((e) => e.startsWith('STATUS_LOG='))) {
    throw new Error('the nginx container has no STATUS_LOG: there is no status log to measure');
  }
  return startNginxCopy(
    extras,
    nginx,
    `${extras.project}-nginx-no-status-log`,
    NO_STATUS_LOG_NGINX_PORT,
    (live) => live,
    {
      unsetEnv: ['STATUS_LOG'],
    },
  );
}

async function startBareFastify(extras: Extras, app: Docker.Container): Promise<Docker.Container> {
  const appInfo = await app.inspect();
  // The app's own command with the script swapped: the same Node.js heap settings.
  const command = [
    ...(appInfo.Config.Cmd ?? ['node']).filter((arg) => !arg.endsWith('.js')),
    '/srv/bench/bare-fastify.mjs',
  ];
  const bare = await startInNamespace(extras, `${extras.project}-bare-fastify`, {
    Image: appInfo.Config.Image,
    Env: withEnv(appInfo.Config.Env, [`PORT=${BARE_FASTIFY_PORT}`]),
    Cmd: command,
    HostConfig: { Binds: [`${BARE_FASTIFY}:/srv/bench/bare-fastify.mjs:ro`] },
  });
  await waitForPort(bare, BARE_FASTIFY_PORT).catch((error: unknown) => {
    throw new Error(
      `the bare Fastify server (${BARE_FASTIFY}) did not start in the app's image; it needs the sample app's image: ${(error as Error).message}`,
    );
  });
  return bare;
}

const envValue = (env: string[], name: string) => env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);

/** An SQL identifier taken from a setting, checked before it goes into a statement. */
function identifier(name: string, value: string | undefined): string {
  if (!value || !/^\w+$/.test(value))
    throw new Error(`the app's ${name} is not a plain SQL name: ${value ?? '(unset)'}`);
  return value;
}

/** Each account of the app's database user, as `'user'@'host'`. */
async function appAccounts(db: Docker.Container, user: string): Promise<string[]> {
  const hosts = await sqlAsRoot(db, `SELECT host FROM mysql.user WHERE user = '${user}'`);
  const accounts = hosts
    .split('\n')
    .filter(Boolean)
    .map((host) => `'${user}'@'${host}'`);
  if (accounts.length === 0) throw new Error(`the database has no user ${user}`);
  return accounts;
}

async function startGunicorn(
  extras: Extras,
  app: Docker.Container,
  nginx: Docker.Container,
  db: Docker.Container,
  image: string,
) {
  const appEnv = (await app.inspect()).Config.Env;
  const user = identifier('DB_USER', envValue(appEnv, 'DB_USER'));
  const posts = identifier('DB_NAME', envValue(appEnv, 'DB_NAME'));
  const schema = readFileSync(path.join(GUNICORN_EXAMPLE, 'migrations/001_entries.sql'), 'utf8')
    .trim()
    .replace(/;$/, '');
  await sqlAsRoot(db, `CREATE DATABASE IF NOT EXISTS ${GUESTBOOK_DATABASE}`);
  extras.cleanups.push(async () => {
    for (const account of await appAccounts(db, user)) {
      await sqlAsRoot(db, `REVOKE ALL PRIVILEGES ON ${GUESTBOOK_DATABASE}.* FROM ${account}`).catch(() => undefined);
    }
    await sqlAsRoot(db, `DROP DATABASE IF EXISTS ${GUESTBOOK_DATABASE}`);
  });
  await sqlAsRoot(
    db,
    `USE ${GUESTBOOK_DATABASE}; ${schema}; DELETE FROM entries;
     INSERT INTO entries (name, message, created_at)
       SELECT LEFT(author, 80), LEFT(body, 1000), created_at FROM ${posts}.posts ORDER BY id DESC LIMIT ${GUESTBOOK_ENTRIES};`,
  );
  for (const account of await appAccounts(db, user)) {
    await sqlAsRoot(db, `GRANT SELECT, INSERT ON ${GUESTBOOK_DATABASE}.* TO ${account}`);
  }
  // The example as its README runs it (gunicorn.conf.py's workers and threads), on the stack's database.
  const gunicorn = await startInNamespace(extras, `${extras.project}-gunicorn`, {
    Image: image,
    Env: [
      `PORT=${GUNICORN_PORT}`,
      ...['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD'].map((name) => `${name}=${envValue(appEnv, name) ?? ''}`),
      `DB_NAME=${GUESTBOOK_DATABASE}`,
    ],
  });
  await untilReady(extras, gunicorn, GUNICORN_PORT, 'the Gunicorn example');
  const front = await startNginxCopy(
    extras,
    nginx,
    `${extras.project}-nginx-gunicorn`,
    GUNICORN_NGINX_PORT,
    () => `server 127.0.0.1:${GUNICORN_PORT};\n`,
  );
  return { app: gunicorn, nginx: front };
}

/** The stack to measure: a running project as it is, or a new one from docker-compose.yml. */
export async function openStack(opts: StackOptions): Promise<BenchStack> {
  let services = await runningServices(opts.project);
  let takeDown: (() => Promise<void>) | undefined;
  if (!services) {
    opts.log(`bringing up compose project ${opts.project}${opts.build ? ' (building images)' : ''}`);
    takeDown = (await startStack({ project: opts.project, base: opts.env, build: opts.build })).stop;
    services = await runningServices(opts.project);
    if (!services) throw new Error(`compose project ${opts.project} came up without all four services`);
  } else {
    opts.log(`using the running compose project ${opts.project}`);
  }
  const { server, db, app, nginx } = services;
  const extras: Extras = {
    project: opts.project,
    namespace: `container:${server.id}`,
    prober: nginx,
    started: [],
    tempDirs: [],
    cleanups: [],
  };
  let secondApp: Docker.Container[] = [];
  return {
    server,
    db,
    app,
    nginx,
    namespace: extras.namespace,
    publishedPort: await publishedPort(server, 443),
    startBareNginx: () => startBareNginx(extras, opts.nginxBaseImage),
    async startSecondApp() {
      const started = await startSecondApp(extras, app, nginx);
      secondApp = [started.nginx, started.app];
      return started;
    },
    startUnlogged: () => startUnlogged(extras, app, nginx),
    startUnmeteredApp: () =>
      startAppCopy(extras, app, `${extras.project}-app-unmetered`, UNMETERED_APP_PORT, ['METRICS_ENABLED=false']),
    startNginxWithoutStatusLog: () => startNginxWithoutStatusLog(extras, nginx),
    startBareFastify: () => startBareFastify(extras, app),
    startGunicorn: (image) => startGunicorn(extras, app, nginx, db, image),
    async stopSecondApp() {
      for (const container of secondApp) await removeContainer(container.id);
      secondApp = [];
    },
    async close() {
      for (const id of extras.started) await removeContainer(id);
      for (const cleanup of extras.cleanups) await cleanup();
      for (const dir of extras.tempDirs) rmSync(dir, { recursive: true, force: true });
      if (takeDown && !opts.keep) {
        opts.log(`taking down compose project ${opts.project}`);
        await takeDown();
      }
    },
  };
}

const DIGITS =
  '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 ' +
  'UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';

/**
 * Tops the posts table up to `target` rows with one INSERT … SELECT over generated
 * numbers (a million at most), so seeding 100k posts takes seconds and happens once.
 */
export async function seedPosts(db: Docker.Container, target: number): Promise<{ before: number; inserted: number }> {
  if (target > 1_000_000) throw new Error('seeding is limited to 1,000,000 posts');
  const before = Number(await sqlAsRoot(db, 'SELECT COUNT(*) FROM posts'));
  const missing = Math.max(0, target - before);
  if (missing > 0) {
    const n = ['a', 'b', 'c', 'e', 'f', 'g'].map((t, i) => `${t}.d * ${10 ** i}`).join(' + ');
    const from = ['a', 'b', 'c', 'e', 'f', 'g'].map((t) => `${DIGITS} ${t}`).join(' CROSS JOIN ');
    await sqlAsRoot(
      db,
      `INSERT INTO posts (author, body, created_at)
       SELECT CONCAT('seed-', n), CONCAT('Seeded post number ', n, ': ', REPEAT('lorem ipsum ', 12)),
              NOW(3) - INTERVAL n SECOND
       FROM (SELECT ${n} AS n FROM ${from}) numbers WHERE n < ${missing}`,
    );
  }
  return { before, inserted: missing };
}
