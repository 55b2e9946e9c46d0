import { chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose } from '../../scripts/tool/core/compose.js';
import { docker, findServiceContainer, logText } from '../../scripts/tool/core/docker.js';
import { builtImages, imagesOf } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { request } from '../../scripts/tool/core/http.js';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';

// The real docker-compose.yml, brought up as a user would (own project, own volume,
// published on 127.0.0.1 only, on a free port), with the images the global setup built.
let stack: Stack;
let port: { port: number; ca: string };

interface PsEntry {
  Service: string;
  State: string;
  Health: string;
  Publishers: Array<{ URL: string; TargetPort: number; PublishedPort: number }> | null;
}

async function services(): Promise<PsEntry[]> {
  const out = await stack.compose(['ps', '--format', 'json']);
  // Compose prints one JSON object per line (older versions: one array).
  const trimmed = out.trim();
  return trimmed.startsWith('[') ? JSON.parse(trimmed) : trimmed.split('\n').map((line) => JSON.parse(line));
}

const publishedPort = () => stack.site();

beforeAll(async () => {
  stack = await startStack();
  port = stack.port;
});

afterAll(async () => {
  await stack?.stop();
});

describe('docker-compose.yml end to end', () => {
  it('runs every service healthy, with only nginx published, on 127.0.0.1', async () => {
    const ps = await services();
    expect(ps.map((s) => s.Service).sort()).toEqual(['app', 'certs', 'db', 'monitor', 'nginx', 'server']);
    for (const service of ps) {
      expect(service.State, service.Service).toBe('running');
      // The namespace owner runs `sleep` and has no health check.
      expect(service.Health, service.Service).toBe(service.Service === 'server' ? '' : 'healthy');
    }
    const published = ps.flatMap((s) =>
      (s.Publishers ?? []).filter((p) => p.PublishedPort > 0).map((p) => ({ ...p, service: s.Service })),
    );
    expect(published.sort((a, b) => a.TargetPort - b.TargetPort)).toEqual([
      expect.objectContaining({ service: 'server', URL: '127.0.0.1', TargetPort: 80 }),
      expect.objectContaining({ service: 'server', URL: '127.0.0.1', TargetPort: 443 }),
    ]);
  });

  it('serves the page and the API through nginx', async () => {
    const page = await request(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('foobar.com');
    const created = await request(port, '/api/posts', {
      method: 'POST',
      body: { author: 'compose', body: 'end to end ✓' },
    });
    expect(created.status).toBe(201);
    const post = created.json();
    expect((await request(port, `/api/posts/${post.id}`)).json()).toEqual(post);
    expect((await request(port, '/api/health/ready')).json()).toEqual({ status: 'ok' });
  });

  it('keeps the data and the certificates on their named volumes across down/up and recreated containers', async () => {
    const { ca } = port;
    const post = (
      await request(port, '/api/posts', { method: 'POST', body: { author: 'volume', body: 'persists' } })
    ).json();
    await stack.compose(['down']);
    await stack.compose(['up', '-d', '--wait']);
    port = await publishedPort();
    expect((await request(port, `/api/posts/${post.id}`)).json()).toEqual(post);
    await stack.compose(['up', '-d', '--wait', '--force-recreate']);
    port = await publishedPort();
    expect((await request(port, `/api/posts/${post.id}`)).json()).toEqual(post);
    // The same local CA, so a browser that trusts it once keeps trusting the site.
    expect(port.ca).toBe(ca);
  });

  it('keeps certificates and keys owner-only (mode 600) on the certs volume, the renewal state alone readable by the monitor', async () => {
    const listing = await stack.compose([
      'exec',
      '-T',
      'certs',
      'find',
      '/certs',
      '-type',
      'f',
      '-printf',
      '%m %u %p\\n',
    ]);
    const files = listing.trim().split('\n');
    expect(files).toEqual(
      expect.arrayContaining([expect.stringMatching(/ca\.key$/), expect.stringMatching(/privkey\.pem$/)]),
    );
    // state.json holds no secret: the monitor reads its failed renewals for an alert.
    for (const line of files) expect(line).toMatch(line.endsWith('/certs/state.json') ? /^644 root / : /^600 root /);
    await stack.compose(['exec', '-T', 'monitor', 'cat', '/srv/certs/state.json']);
    await expect(stack.compose(['exec', '-T', 'monitor', 'cat', '/srv/certs/current/privkey.pem'])).rejects.toThrow();
  });

  it('runs every container hardened: read-only root, no capabilities beyond need, no-new-privileges', async () => {
    const expected: Record<string, { user?: string; capAdd: string[] }> = {
      server: { capAdd: [] },
      db: { capAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'] },
      app: { user: 'node', capAdd: [] },
      monitor: { user: 'node', capAdd: [] },
      nginx: { capAdd: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'] },
      certs: { capAdd: [] },
      migrate: { user: 'node', capAdd: [] },
    };
    for (const [service, want] of Object.entries(expected)) {
      const info = await (await stack.container(service)).inspect();
      // A service that crashed during start and was restarted would pass --wait; not this.
      expect(info.RestartCount, service).toBe(0);
      expect(info.HostConfig.ReadonlyRootfs, service).toBe(true);
      expect(info.HostConfig.CapDrop, service).toEqual(['ALL']);
      expect([...(info.HostConfig.CapAdd ?? [])].map((c) => c.replace(/^CAP_/, '')).sort(), service).toEqual(
        want.capAdd,
      );
      expect(info.HostConfig.SecurityOpt, service).toContain('no-new-privileges:true');
      if (want.user) expect(info.Config.User, service).toBe(want.user);
    }
  });

  it('keeps secrets out of the images: no .env, no password in any layer', async () => {
    for (const image of builtImages(imagesOf(process.env))) {
      const history = await docker.getImage(image).history();
      const layers = JSON.stringify(history);
      expect(layers, image).not.toContain(stack.env.MYSQL_PASSWORD!);
      expect(layers, image).not.toMatch(/PASSWORD=/);
    }
    const app = (await stack.compose(['exec', '-T', 'app', 'ls', '-a', '/srv'])).split('\n');
    expect(app).not.toContain('.env');
    expect(app).toEqual(expect.arrayContaining(['app', 'node_modules', 'package.json']));
    // The schema is the migrate service's: the app image carries no migrations.
    expect(app).not.toContain('db');
    // The monitor is the stack's own program in its own image: the sample app carries none of it.
    expect((await stack.compose(['exec', '-T', 'app', 'ls', '/srv/app/dist'])).split('\n')).not.toContain('monitor');
    const monitor = (await stack.compose(['exec', '-T', 'monitor', 'ls', '-a', '/srv'])).split('\n');
    expect(monitor).toEqual(expect.arrayContaining(['monitor', 'node_modules', 'package.json']));
    expect(monitor).not.toContain('app');
    expect(monitor).not.toContain('.env');
  });

  it('passes nginx -t in the running nginx container', async () => {
    const out = await stack.compose(['exec', '-T', 'nginx', 'nginx', '-t']).catch((err: Error) => err.message);
    // nginx -t reports on stderr; a failure would have thrown with its output.
    expect(out).not.toMatch(/failed/);
  });

  it('starts the app only after the migrate service applied the schema and exited 0', async () => {
    const migrate = await (await stack.container('migrate')).inspect();
    const app = await (await stack.container('app')).inspect();
    expect(migrate.State.Status).toBe('exited');
    expect(migrate.State.ExitCode).toBe(0);
    expect(Date.parse(migrate.State.FinishedAt)).toBeLessThanOrEqual(Date.parse(app.State.StartedAt));
    // The app's folder, mounted read-only, is what it applied.
    expect(migrate.Mounts).toEqual([
      expect.objectContaining({ Source: `${REPO_ROOT}app/migrations`, Destination: '/migrations', RW: false }),
    ]);
    expect(await stack.sql('SELECT name FROM schema_migrations')).toContain('001_create_posts.sql');
  });

  // Last: it leaves the stack without an app.
  it('keeps the app from starting when a migration fails, and the migrate log names the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsi-migrations-'));
    try {
      await cp(`${REPO_ROOT}app/migrations`, dir, { recursive: true });
      await writeFile(join(dir, '900_broken.sql'), 'CREATE TABLE broken (id INT PRIMARY KEY;');
      // The image's user (node) reads the mounted folder.
      await chmod(dir, 0o755);
      await stack.compose(['down']);
      const env = { ...stack.env, APP_MIGRATIONS: dir };
      const up = await compose(stack.project, ['up', '-d', '--wait'], env).then(
        () => 'started',
        (err: Error) => err.message,
      );
      expect(up).toMatch(/migrate.*didn't complete successfully: exit 1/);
      const app = await findServiceContainer(stack.project, 'app');
      expect(app && (await app.inspect()).State.Running).toBeFalsy();
      const log = await logText((await findServiceContainer(stack.project, 'migrate'))!);
      expect(log).toMatch(/"msg":"migration run failed: migration 900_broken\.sql failed: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
