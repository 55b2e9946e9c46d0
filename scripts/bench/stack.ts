import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, compose, composeEnv } from '../../test/support/compose.js';
import { docker, engine, runningServiceId } from './docker.js';

export const BARE_NGINX_PORT = 8081;
export const SECOND_APP_PORT = 5001;
export const TWO_APPS_NGINX_PORT = 8082;
/** The logging-off control: an app with LOG_LEVEL=silent, and an nginx with access_log off in front of it. */
export const UNLOGGED_APP_PORT = 5002;
export const UNLOGGED_NGINX_PORT = 8083;
const BARE_NGINX_CONF = path.join(REPO_ROOT, 'scripts/bench/bare-nginx.conf');

export interface StackOptions {
  /** Compose project: used as it is when it runs, else brought up from docker-compose.yml. */
  project: string;
  /** Build the images when bringing the stack up (false: they must exist). */
  build: boolean;
  /** Leave a stack this run brought up running afterwards. */
  keep: boolean;
  imageTag: string;
  nginxBaseImage: string;
  log: (line: string) => void;
}

export interface BenchStack {
  server: string;
  db: string;
  app: string;
  nginx: string;
  /** Host port on 127.0.0.1 where the server publishes nginx's port 80. */
  publishedPort: number;
  /** `--network` value that joins the server's namespace. */
  namespace: string;
  /** A stock nginx in the namespace on BARE_NGINX_PORT, serving app/public. */
  startBareNginx(): Promise<string>;
  /** A second app process on SECOND_APP_PORT, and an nginx on TWO_APPS_NGINX_PORT balancing both. */
  startSecondApp(): Promise<{ app: string; nginx: string }>;
  stopSecondApp(): Promise<void>;
  /** The control with logging off: an app on UNLOGGED_APP_PORT and an nginx on UNLOGGED_NGINX_PORT. */
  startUnlogged(): Promise<{ app: string; nginx: string }>;
  close(): Promise<void>;
}

async function serviceIds(project: string) {
  const ids = await Promise.all(['server', 'db', 'app', 'nginx'].map((s) => runningServiceId(project, s)));
  const [server, db, app, nginx] = ids;
  return server && db && app && nginx ? { server, db, app, nginx } : undefined;
}

async function publishedPort(server: string): Promise<number> {
  const info = await engine.getContainer(server).inspect();
  const binding = info.NetworkSettings.Ports['80/tcp']?.[0];
  if (!binding) throw new Error('the server container publishes no port 80');
  return Number(binding.HostPort);
}

/** Waits (bounded) until something in the container accepts TCP on 127.0.0.1:port. */
async function waitForPort(id: string, port: number): Promise<void> {
  const probe = `for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && exit 0; sleep 0.1; done; exit 1`;
  await docker(['exec', id, 'bash', '-c', probe]);
}

export async function openStack(opts: StackOptions): Promise<BenchStack> {
  let ids = await serviceIds(opts.project);
  const startedHere = !ids;
  if (!ids) {
    opts.log(`bringing up compose project ${opts.project}${opts.build ? ' (building images)' : ''}`);
    const env = composeEnv({ IMAGE_TAG: opts.imageTag });
    await compose(opts.project, ['up', '-d', '--wait', ...(opts.build ? ['--build'] : ['--no-build'])], env);
    ids = await serviceIds(opts.project);
    if (!ids) throw new Error(`compose project ${opts.project} came up without all four services`);
  } else {
    opts.log(`using the running compose project ${opts.project}`);
  }
  const { server, db, app, nginx } = ids;
  const namespace = `container:${server}`;
  const label = `webstack.bench=${opts.project}`;
  const extras: string[] = [];
  let secondAppIds: string[] = [];
  const tempDirs: string[] = [];

  // Extra processes join the namespace like the stack's own services do.
  const startInNamespace = async (name: string, args: string[]) => {
    await docker(['rm', '-f', name]).catch(() => undefined);
    const id = (await docker(['run', '-d', '--name', name, '--label', label, '--network', namespace, ...args])).trim();
    extras.push(id);
    return id;
  };

  /** Another process of the running app's image and environment on `port`, once ready. */
  const startAppCopy = async (name: string, port: number, env: string[] = []) => {
    const appInfo = await engine.getContainer(app).inspect();
    const appEnv = [...appInfo.Config.Env.filter((e) => !e.startsWith('PORT=')), `PORT=${port}`, ...env];
    const id = await startInNamespace(name, [...appEnv.flatMap((e) => ['--env', e]), appInfo.Config.Image]);
    await docker([
      'exec',
      id,
      'sh',
      '-c',
      'for i in $(seq 120); do node app/dist/healthcheck.js && exit 0; sleep 0.5; done; exit 1',
    ]);
    return id;
  };

  /**
   * Another nginx with the running one's image, environment (the rate limits its templates
   * render at start) and configuration, listening on `port`: `upstream` rewrites the live
   * upstream server list, `main` (optional) nginx.conf.
   */
  const startNginxCopy = async (
    name: string,
    port: number,
    upstream: (live: string) => string,
    main?: (conf: string) => string,
  ) => {
    const confDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-nginx-'));
    const upstreamDir = mkdtempSync(path.join(tmpdir(), 'webstack-bench-upstream-'));
    tempDirs.push(confDir, upstreamDir);
    const read = (file: string) => docker(['exec', nginx, 'cat', file]);
    const site = await read('/etc/nginx/conf.d/site.conf');
    writeFileSync(path.join(confDir, 'site.conf'), site.replaceAll(/listen 80\b/g, `listen ${port}`));
    writeFileSync(path.join(confDir, 'upstream.conf'), await read('/etc/nginx/conf.d/upstream.conf'));
    writeFileSync(
      path.join(upstreamDir, 'app-server.conf'),
      upstream(await read('/etc/nginx/upstream/app-server.conf')),
    );
    const mounts = ['--volume', `${confDir}:/etc/nginx/conf.d:ro`, '--volume', `${upstreamDir}:/etc/nginx/upstream:ro`];
    if (main) {
      const mainFile = path.join(confDir, '..', `${path.basename(confDir)}.nginx.conf`);
      writeFileSync(mainFile, main(await read('/etc/nginx/nginx.conf')));
      tempDirs.push(mainFile);
      mounts.push('--volume', `${mainFile}:/etc/nginx/nginx.conf:ro`);
    }
    const nginxInfo = await engine.getContainer(nginx).inspect();
    const id = await startInNamespace(name, [
      ...(nginxInfo.Config.Env ?? []).flatMap((e) => ['--env', e]),
      ...mounts,
      nginxInfo.Config.Image,
    ]);
    await waitForPort(id, port);
    return id;
  };

  return {
    server,
    db,
    app,
    nginx,
    namespace,
    publishedPort: await publishedPort(server),

    async startBareNginx() {
      const id = await startInNamespace(`${opts.project}-bare-nginx`, [
        '--volume',
        `${path.join(REPO_ROOT, 'app/public')}:/usr/share/nginx/html:ro`,
        '--volume',
        `${BARE_NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro`,
        opts.nginxBaseImage,
      ]);
      await waitForPort(id, BARE_NGINX_PORT);
      return id;
    },

    async startSecondApp() {
      const appId = await startAppCopy(`${opts.project}-app2`, SECOND_APP_PORT);
      const twoAppsNginx = await startNginxCopy(`${opts.project}-nginx-n2`, TWO_APPS_NGINX_PORT, (live) => {
        const both = live.replace(/^(server 127\.0\.0\.1:\d+;)$/m, `$1\nserver 127.0.0.1:${SECOND_APP_PORT};`);
        // A silent no-op here would measure one app and call it two.
        if (both === live) throw new Error(`no upstream server line to extend in:\n${live}`);
        return both;
      });
      secondAppIds = [twoAppsNginx, appId];
      return { app: appId, nginx: twoAppsNginx };
    },

    async startUnlogged() {
      const appId = await startAppCopy(`${opts.project}-app-unlogged`, UNLOGGED_APP_PORT, ['LOG_LEVEL=silent']);
      const nginxId = await startNginxCopy(
        `${opts.project}-nginx-unlogged`,
        UNLOGGED_NGINX_PORT,
        () => `server 127.0.0.1:${UNLOGGED_APP_PORT};\n`,
        (conf) => {
          const off = conf.replace(/^(\s*)access_log [^;]+;$/m, '$1access_log off;');
          if (off === conf) throw new Error('no access_log line to turn off in nginx.conf');
          return off;
        },
      );
      return { app: appId, nginx: nginxId };
    },

    async stopSecondApp() {
      for (const id of secondAppIds) await docker(['rm', '-f', id]);
      secondAppIds = [];
    },

    async close() {
      for (const id of extras) await docker(['rm', '-f', id]).catch(() => undefined);
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
      if (startedHere && !opts.keep) {
        opts.log(`taking down compose project ${opts.project}`);
        await compose(
          opts.project,
          ['down', '--volumes', '--remove-orphans'],
          composeEnv({ IMAGE_TAG: opts.imageTag }),
        );
      }
    },
  };
}

const DIGITS =
  '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 ' +
  'UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';

/** SQL in the database container as root (its own MYSQL_ROOT_PASSWORD), on the app's database. */
async function sqlAsRoot(db: string, sql: string): Promise<string> {
  return docker([
    'exec',
    db,
    'sh',
    '-c',
    'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot -N "$MYSQL_DATABASE" -e "$1"',
    'sh',
    sql,
  ]);
}

/**
 * Tops the posts table up to `target` rows with one INSERT … SELECT over generated
 * numbers (a million at most), so seeding 100k posts takes seconds and happens once.
 */
export async function seedPosts(db: string, target: number): Promise<{ before: number; inserted: number }> {
  if (target > 1_000_000) throw new Error('seeding is limited to 1,000,000 posts');
  const before = Number((await sqlAsRoot(db, 'SELECT COUNT(*) FROM posts')).trim());
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
