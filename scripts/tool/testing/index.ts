import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BASE_IMAGE_NAMES, ensureBaseImages } from '../core/base-images.js';
import { logText } from '../core/docker.js';
import { REPO_ROOT } from '../core/paths.js';
import { waitFor } from '../core/wait.js';
import { appChoice } from '../core/app.js';
import { buildAppDir, buildStackImages, defaultRateLimits, startStack, type RateLimits, type Stack } from './stack.js';

/**
 * webstack as a test fixture for other projects: `import { startWebstack } from 'webstack/testing'`.
 * The whole stack (nginx, the Fastify app, MySQL, the certs service) from this package's
 * docker-compose.yml, on free ports of 127.0.0.1 (HTTPS with its own CA, and HTTP that
 * redirects), with its own data; the docs' testing page shows a whole test.
 */

export type { RateLimits };

/**
 * The app the stack runs behind nginx, instead of the sample posts app:
 * - `{ dir }`: a folder with a Dockerfile (relative paths from the current directory), built
 *   on every start unless `build` is 'never' (Docker's cache keeps an unchanged one quick);
 * - `{ image }`: a ready image, run as it is (pulled when it is not on this machine).
 * Either way the app keeps the contract the stack relies on (the docs' "Your app" page):
 * it listens on 127.0.0.1:$PORT (5000), answers GET /live and GET /ready (200 when it can
 * serve), its image has a HEALTHCHECK on /ready, it reads DB_HOST, DB_PORT, DB_NAME,
 * DB_USER, DB_PASSWORD, logs JSON lines to stdout and drains and exits on SIGTERM.
 * `migrations` is its folder of numbered SQL files, which the stack's migrate service applies
 * before the app starts (default: the folder's `migrations/` where there is one); without
 * one the database starts empty.
 */
export type WebstackApp = ({ dir: string } | { image: string }) & { migrations?: string };

export interface WebstackOptions {
  /**
   * Your app instead of the sample (default: APP_DIR or APP_IMAGE from the environment, else
   * the sample posts app), e.g. `{ dir: 'hello-app' }` or `{ image: 'registry.example/app:1.2' }`.
   */
  app?: WebstackApp;
  /**
   * nginx's per-client rate limits. By default none that test traffic reaches; 'default'
   * for the limits production runs with; or any of RATE_LIMIT_WRITES, RATE_LIMIT_WRITES_BURST,
   * RATE_LIMIT_READS, RATE_LIMIT_READS_BURST (nginx syntax: '5r/s', '10').
   */
  rateLimits?: 'default' | Partial<RateLimits>;
  /** More variables for docker-compose.yml, e.g. { LOG_LEVEL: 'debug', DB_POOL_SIZE: '4' }. */
  env?: Record<string, string>;
  /** The tag of the stack's own images (default: IMAGE_TAG, else `testing-<package version>`). */
  imageTag?: string;
  /** Build the stack's images: 'missing' (default) only when absent, 'always', or 'never'. */
  build?: 'missing' | 'always' | 'never';
  /** How long the stack may take to become healthy (default 4 minutes). */
  startupTimeoutMs?: number;
}

/** One request's log lines, parsed: nginx's access log line(s) and the app's pino lines. */
export interface RequestLogs {
  nginx: Array<Record<string, unknown>>;
  app: Array<Record<string, unknown>>;
}

export interface Webstack {
  /** Base URLs on 127.0.0.1, without a trailing slash. */
  urls: {
    /**
     * `https://127.0.0.1:<port>`: the site (pages, `/api/`), as production serves it on 443.
     * Its certificate (for 127.0.0.1, localhost and www.foobar.com) is signed by `ca`, which
     * your client must trust: with fetch, pass `dispatcher: new Agent({ connect: { ca } })`
     * (undici's Agent); with node:https, `https.request(url, { ca })`.
     */
    https: string;
    /**
     * `http://127.0.0.1:<port>`: plain HTTP, which only redirects (301) to https on the
     * standard port 443, as production's port 80 does (ACME's challenge path aside). For
     * testing that redirect, not for talking to the API.
     */
    http: string;
  };
  /** The PEM of the stack's own CA, which signs its HTTPS certificate: trust it for `urls.https`. */
  ca: string;
  /** Runs SQL as root on the app's database; the rows as tab-separated lines. */
  sql(statement: string): Promise<string>;
  /** Empties every table but the migration history, for the next test. */
  reset(): Promise<void>;
  /**
   * The log lines of one request, by the id nginx gave it (the X-Request-Id response header).
   * Waits up to `timeoutMs` (default 5 s) until nginx has logged the request and, for a
   * request nginx passed to the app, until the app has too.
   */
  logsFor(requestId: string, options?: { timeoutMs?: number }): Promise<RequestLogs>;
  /** Removes the stack: containers, network and data. */
  stop(): Promise<void>;
  /** The underlying stack: compose project, containers, any other compose command. */
  stack: Stack;
}

let baseImages: Promise<Record<string, string>> | undefined;

/** The base images (scripts/lib/images.sh, as scripts/up makes them), once per process. */
function ensureBaseImagesOnce(): Promise<Record<string, string>> {
  baseImages ??= ensureBaseImages(process.env, (line) => process.stderr.write(`webstack: ${line}\n`)).catch(
    (err: Error) => {
      throw new Error(`webstack: ${err.message}`, { cause: err });
    },
  );
  return baseImages;
}

const packageVersion = () =>
  (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string }).version;

const json = (line: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

const dirOf = (app: WebstackApp) => ('dir' in app ? app.dir : undefined);
const imageOf = (app: WebstackApp) => ('image' in app ? app.image : undefined);

/** Starts a fresh copy of the stack and waits until it is healthy. Call stop() when done. */
export async function startWebstack(options: WebstackOptions = {}): Promise<Webstack> {
  const imageTag = options.imageTag ?? process.env.IMAGE_TAG ?? `testing-${packageVersion()}`;
  const base: NodeJS.ProcessEnv = { ...process.env, IMAGE_TAG: imageTag };
  // images.sh keeps the image variables already set.
  if (BASE_IMAGE_NAMES.some((name) => !base[name])) Object.assign(base, await ensureBaseImagesOnce());
  // Installed from a packed tarball, the lock file the certs image is built with sits in dist/
  // (npm pack leaves the top folder's package-lock.json out; the app's folder keeps its own).
  if (!existsSync(`${REPO_ROOT}package-lock.json`)) base.BUILD_LOCKFILE = 'dist/package-lock.json';
  const app = options.app
    ? appChoice({ APP_DIR: dirOf(options.app), APP_IMAGE: imageOf(options.app) })
    : appChoice(base);
  delete base.APP_DIR;
  delete base.APP_IMAGE;
  if (app && 'image' in app) base.APP_IMAGE = app.image;
  // Your folder's image under a tag of its own (the sample's keeps IMAGE_TAG's), then run as a ready image.
  if (app && 'dir' in app) base.APP_IMAGE = await buildAppDir(base, app.dir, options.build === 'never');
  // Your app's schema, never the sample's: its folder of SQL files, or an empty one.
  let noMigrations: string | undefined;
  if (app) {
    const own = options.app?.migrations ?? ('dir' in app ? path.join(app.dir, 'migrations') : undefined);
    base.APP_MIGRATIONS =
      own && existsSync(own)
        ? path.resolve(own)
        : (noMigrations = mkdtempSync(path.join(tmpdir(), 'webstack-no-migrations-')));
  }
  if (options.build !== 'never') await buildStackImages(base, options.build === 'always' ? 'always' : 'missing');

  const limits = options.rateLimits === 'default' ? defaultRateLimits() : (options.rateLimits ?? {});
  const stack = await startStack({
    base,
    env: { ...limits, ...options.env },
    ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
  });

  const reset = async () => {
    const tables = await stack.sql(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'",
    );
    const names = tables.split('\n').filter(Boolean);
    if (names.length > 0) await stack.sql(names.map((name) => `TRUNCATE TABLE \`${name}\`;`).join(' '));
  };

  const logsFor = async (requestId: string, { timeoutMs = 5_000 } = {}): Promise<RequestLogs> => {
    const linesOf = async (service: string, key: string) =>
      (await logText(await stack.container(service)))
        .split('\n')
        .filter((line) => line.includes(requestId))
        .map(json)
        .filter((entry): entry is Record<string, unknown> => entry?.[key] === requestId);
    return waitFor(
      `nginx and the app have logged request ${requestId}`,
      async () => {
        const nginx = await linesOf('nginx', 'request_id');
        const proxied = nginx.some((entry) => entry.upstream_addr);
        const app = proxied ? await linesOf('app', 'requestId') : [];
        return nginx.length > 0 && (!proxied || app.length > 0) && { nginx, app };
      },
      { timeoutMs, intervalMs: 100 },
    );
  };

  return {
    urls: { https: `https://127.0.0.1:${stack.port.port}`, http: `http://127.0.0.1:${stack.httpPort}` },
    ca: stack.port.ca,
    sql: stack.sql,
    reset,
    logsFor,
    async stop() {
      await stack.stop();
      if (noMigrations) rmSync(noMigrations, { recursive: true, force: true });
    },
    stack,
  };
}
