// app/ holds nothing the stack needs: in a throwaway clone of this checkout's last commit
// (commit a change first to test it), app/ is replaced by the guestbook example as a user
// replaces the sample with their own app, the stack comes up with the documented command,
// and the example's pages, HTTPS with the local CA, /status and a backup and restore all
// work. Were the nginx image, the migrations or the monitor to need the sample's files, the
// build or one of these checks fails here.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, sumOf } from '../../nginx/monitor/src/prometheus-text.js';
import { request, type Endpoint, type HttpRequest } from '../../scripts/tool/core/http.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { statusAuthorization } from '../support/http.js';
import { userStack } from '../support/user-stack.js';

const run = promisify(execFile);
// Isolated from every other stack (its own project, ports and image tag); the rest is what a
// user sets: APP_PATHS=all, because the guestbook renders its own pages (scripts/up keeps it in .env).
const stack = userStack('swapped-app');
const env: NodeJS.ProcessEnv = { ...stack.env, APP_PATHS: 'all' };
let root: string | undefined;
let clone: string;
let site: Endpoint;
let dotEnv: string;

/** A command in the clone, as the user types it; a failure says which and what it printed. */
async function sh(script: string): Promise<string> {
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: clone,
    env,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    const said = `${err.stdout?.slice(-2000) ?? ''}\n${err.stderr?.slice(-4000) ?? ''}`;
    throw new Error(`in the clone with app/ swapped, "${script}" failed:\n${said}`, { cause: err });
  });
  return stdout;
}

const send = (path: string, options: HttpRequest = {}) => request(site, path, options);
const json = { 'content-type': 'application/json' };
const value = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(dotEnv)?.[1];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'swapped-app-'));
  clone = join(root, 'webstack');
  await run('git', ['clone', '--quiet', REPO_ROOT, clone]);
  // The operations commands run on the repository's npm packages: the same lock file's, as
  // npm ci would install them, without a second install.
  await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'));
  await sh('rm -rf app && cp -r examples/gunicorn app');
  const up = await sh('scripts/up');
  const address = /^The site:\s+https:\/\/localhost:(\d+)\//m.exec(up)?.[1];
  if (!address) throw new Error(`scripts/up printed no "The site:" line with a port:\n${up}`);
  // Verified against the stack's own local CA, which scripts/up wrote for the user to trust.
  site = { port: Number(address), ca: await readFile(join(clone, 'webstack-local-ca.pem')) };
  dotEnv = await readFile(join(clone, '.env'), 'utf8');
}, 600_000);

afterAll(() => stack.remove(root));

describe('the stack with app/ replaced by the guestbook example (rm -rf app && cp -r examples/gunicorn app)', () => {
  it("serves the example's own page over HTTPS through nginx, with the local CA's certificate", async () => {
    expect(value('APP_PATHS'), 'scripts/up keeps APP_PATHS in .env').toBe('all');
    const page = await send('/');
    expect(page.status, `GET / answered ${page.status}: ${page.body.slice(0, 300)}`).toBe(200);
    expect(page.body, "the front page is not the guestbook's").toContain('<h1>Guestbook</h1>');
    // The web root holds none of the sample's files: this path is the app's, and it has none.
    expect((await send('/assets/app.js')).status, "nginx serves the sample's web root").toBe(404);
  });

  it("applied the example's migrations: its API stores and reads entries", async () => {
    const created = await send('/api/entries', {
      method: 'POST',
      headers: json,
      body: { name: 'Swap', message: 'hi' },
    });
    expect(created.status, `POST /api/entries: ${created.body}`).toBe(201);
    expect((await send(`/api/entries/${created.json().id}`)).json()).toMatchObject({ message: 'hi' });
  });

  it('is seen up on /status, with the password from .env', async () => {
    const auth = { authorization: statusAuthorization(value('STATUS_PASSWORD')) };
    await waitFor(
      'the monitor sees the app and the database up on /status/metrics',
      async () => {
        const response = await send('/status/metrics', { headers: auth });
        if (response.status !== 200) throw new Error(`/status/metrics answered ${response.status}`);
        const samples = parsePrometheusText(response.body);
        const up = ['app', 'db'].map((part) => [part, sumOf(samples, 'webstack_up', { part })] as const);
        if (up.some(([, value]) => value !== 1))
          throw new Error(`webstack_up: ${up.map((p) => p.join(' ')).join(', ')}`);
        return true;
      },
      { timeoutMs: 30_000 },
    );
  });

  it('brings back, with scripts/backup and scripts/restore, an entry removed after the backup', async () => {
    const message = `before the backup ${randomBytes(4).toString('hex')}`;
    const created = await send('/api/entries', { method: 'POST', headers: json, body: { name: 'Backup', message } });
    expect(created.status, `POST /api/entries: ${created.body}`).toBe(201);
    const entry = created.json();
    const backedUp = await sh('scripts/backup --dir backups');
    const file = /^wrote (\S+\.sql\.gz)/m.exec(backedUp)?.[1];
    if (!file) throw new Error(`scripts/backup named no file it wrote:\n${backedUp}`);
    await sh(
      `docker compose exec -T db sh -c 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot "$MYSQL_DATABASE" -e "DELETE FROM entries WHERE id = ${Number(entry.id)}"'`,
    );
    expect((await send(`/api/entries/${entry.id}`)).status, 'the entry was not removed').toBe(404);
    await sh(`scripts/restore '${file}' --yes`);
    const restored = await send(`/api/entries/${entry.id}`);
    expect(restored.status, `the restore did not bring the entry back: ${restored.body}`).toBe(200);
    expect(restored.json()).toEqual(entry);
  });
});
