import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { docker, execOk, findServiceContainer, publishedPort, removeContainer } from '../core/docker.js';
import { REPO_ROOT } from '../core/paths.js';
import { sqlAsRoot } from '../core/sql.js';
import { startStack } from '../testing/stack.js';

export const BARE_NGINX_PORT = 8081;
export const SECOND_APP_PORT = 5001;
export const TWO_APPS_NGINX_PORT = 8082;
/** An app process with METRICS_ENABLED=false: what metrics and Server-Timing cost. */
export const UNMETERED_APP_PORT = 5002;
const BARE_NGINX_CONF = path.join(REPO_ROOT, 'scripts/tool/bench/bare-nginx.conf');

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
  /** Host port on 127.0.0.1 where the server publishes nginx's port 80. */
  publishedPort: number;
  /** `NetworkMode` that joins the server's namespace. */
  namespace: string;
  /** A stock nginx in the namespace on BARE_NGINX_PORT, serving app/public. */
  startBareNginx(): Promise<Docker.Container>;
  /** A second app process on SECOND_APP_PORT, and an nginx on TWO_APPS_NGINX_PORT balancing both. */
  startSecondApp(): Promise<{ app: Docker.Container; nginx: Docker.Container }>;
  stopSecondApp(): Promise<void>;
  /** The same app image and environment on UNMETERED_APP_PORT, without metrics or Server-Timing. */
  startUnmeteredApp(): Promise<Docker.Container>;
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
  started: string[];
  tempDirs: string[];
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
      ],
    },
  });
  await waitForPort(bare, BARE_NGINX_PORT);
  return bare;
}

/** The running nginx's own configuration, with both apps in the upstream and its own port, in temp folders. */
async function twoAppsConfig(extras: Extras, nginx: Docker.Container): Promise<string[]> {
  const confDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-nginx-'));
  const upstreamDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-upstream-'));
  extras.tempDirs.push(confDir, upstreamDir);
  const read = (file: string) => execOk(nginx, ['cat', file]);
  const site = await read('/etc/nginx/conf.d/site.conf');
  const liveServer = await read('/etc/nginx/upstream/app-server.conf');
  const bothServers = liveServer.replace(/^(server 127\.0\.0\.1:\d+;)$/m, `$1\nserver 127.0.0.1:${SECOND_APP_PORT};`);
  // A silent no-op here would measure one app and call it two.
  if (bothServers === liveServer) throw new Error(`no upstream server line to extend in:\n${liveServer}`);
  writeFileSync(path.join(confDir, 'site.conf'), site.replaceAll(/listen 80\b/g, `listen ${TWO_APPS_NGINX_PORT}`));
  writeFileSync(path.join(confDir, 'upstream.conf'), await read('/etc/nginx/conf.d/upstream.conf'));
  // The maps and log format site.conf's snippets use (not stub-status.conf: its port is taken).
  writeFileSync(path.join(confDir, 'status.conf'), await read('/etc/nginx/conf.d/status.conf'));
  writeFileSync(path.join(upstreamDir, 'app-server.conf'), bothServers);
  return [`${confDir}:/etc/nginx/conf.d:ro`, `${upstreamDir}:/etc/nginx/upstream:ro`];
}

/** Another process of the stack's app image and environment on `port`, once it is ready. */
async function startAppCopy(extras: Extras, app: Docker.Container, name: string, env: string[]) {
  const appInfo = await app.inspect();
  const names = env.map((e) => e.split('=')[0] as string);
  const copy = await startInNamespace(extras, `${extras.project}-${name}`, {
    Image: appInfo.Config.Image,
    Env: [...appInfo.Config.Env.filter((e) => !names.includes(e.split('=')[0] as string)), ...env],
  });
  await execOk(copy, [
    'sh',
    '-c',
    'for i in $(seq 120); do node app/dist/healthcheck.js && exit 0; sleep 0.5; done; exit 1',
  ]);
  return copy;
}

async function startSecondApp(extras: Extras, app: Docker.Container, nginx: Docker.Container) {
  const second = await startAppCopy(extras, app, 'app2', [`PORT=${SECOND_APP_PORT}`]);
  const nginxInfo = await nginx.inspect();
  // Same image and environment (the rate limits its templates render at start).
  const twoAppsNginx = await startInNamespace(extras, `${extras.project}-nginx-n2`, {
    Image: nginxInfo.Config.Image,
    Env: nginxInfo.Config.Env ?? [],
    HostConfig: { Binds: await twoAppsConfig(extras, nginx) },
  });
  await waitForPort(twoAppsNginx, TWO_APPS_NGINX_PORT);
  return { app: second, nginx: twoAppsNginx };
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
  const extras: Extras = { project: opts.project, namespace: `container:${server.id}`, started: [], tempDirs: [] };
  let secondApp: Docker.Container[] = [];
  return {
    server,
    db,
    app,
    nginx,
    namespace: extras.namespace,
    publishedPort: await publishedPort(server),
    startBareNginx: () => startBareNginx(extras, opts.nginxBaseImage),
    async startSecondApp() {
      const started = await startSecondApp(extras, app, nginx);
      secondApp = [started.nginx, started.app];
      return started;
    },
    startUnmeteredApp: () =>
      startAppCopy(extras, app, 'app-unmetered', [`PORT=${UNMETERED_APP_PORT}`, 'METRICS_ENABLED=false']),
    async stopSecondApp() {
      for (const container of secondApp) await removeContainer(container.id);
      secondApp = [];
    },
    async close() {
      for (const id of extras.started) await removeContainer(id);
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
