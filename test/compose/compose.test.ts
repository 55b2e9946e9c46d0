import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceContainer } from '../../scripts/ops/docker.js';
import { compose, composeEnv, siteEndpoint } from '../support/compose.js';
import { request } from '../support/http.js';
import { images } from '../support/images.js';
import { docker } from '../support/stack.js';

// The real docker-compose.yml, brought up as a user would (own project, own volume,
// published on 127.0.0.1 only, on a free port), with the images the global setup built.
const project = `webstack-test-${randomBytes(3).toString('hex')}`;
const env = composeEnv();
let port: { port: number; ca: string };

interface PsEntry {
  Service: string;
  State: string;
  Health: string;
  Publishers: Array<{ URL: string; TargetPort: number; PublishedPort: number }> | null;
}

async function services(): Promise<PsEntry[]> {
  const out = await compose(project, ['ps', '--format', 'json'], env);
  // Compose prints one JSON object per line (older versions: one array).
  const trimmed = out.trim();
  return trimmed.startsWith('[') ? JSON.parse(trimmed) : trimmed.split('\n').map((line) => JSON.parse(line));
}

const publishedPort = () => siteEndpoint(project, env);

beforeAll(async () => {
  await compose(project, ['up', '-d', '--wait'], env);
  port = await publishedPort();
});

afterAll(async () => {
  await compose(project, ['down', '--volumes', '--remove-orphans'], env);
});

describe('docker-compose.yml end to end', () => {
  it('runs every service healthy, with only nginx published, on 127.0.0.1', async () => {
    const ps = await services();
    expect(ps.map((s) => s.Service).sort()).toEqual(['app', 'certs', 'db', 'nginx', 'server']);
    for (const service of ps) {
      expect(service.State, service.Service).toBe('running');
      expect(service.Health, service.Service).toBe('healthy');
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
    await compose(project, ['down'], env);
    await compose(project, ['up', '-d', '--wait'], env);
    port = await publishedPort();
    expect((await request(port, `/api/posts/${post.id}`)).json()).toEqual(post);
    await compose(project, ['up', '-d', '--wait', '--force-recreate'], env);
    port = await publishedPort();
    expect((await request(port, `/api/posts/${post.id}`)).json()).toEqual(post);
    // The same local CA, so a browser that trusts it once keeps trusting the site.
    expect(port.ca).toBe(ca);
  });

  it('keeps certificates and keys owner-only (mode 600) on the certs volume', async () => {
    const listing = await compose(
      project,
      ['exec', '-T', 'certs', 'find', '/certs', '-type', 'f', '-printf', '%m %u %p\\n'],
      env,
    );
    const files = listing.trim().split('\n');
    expect(files).toEqual(
      expect.arrayContaining([expect.stringMatching(/ca\.key$/), expect.stringMatching(/privkey\.pem$/)]),
    );
    for (const line of files) expect(line).toMatch(/^600 root /);
  });

  it('runs every container hardened: read-only root, no capabilities beyond need, no-new-privileges', async () => {
    const expected: Record<string, { user?: string; capAdd: string[] }> = {
      server: { capAdd: [] },
      db: { capAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'] },
      app: { user: 'node', capAdd: [] },
      nginx: { capAdd: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'] },
      certs: { capAdd: [] },
    };
    for (const [service, want] of Object.entries(expected)) {
      const info = await (await serviceContainer(project, service)).inspect();
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
    for (const image of [images.app, images.nginx, images.certs]) {
      const history = await docker.getImage(image).history();
      const layers = JSON.stringify(history);
      expect(layers, image).not.toContain(env.MYSQL_PASSWORD!);
      expect(layers, image).not.toMatch(/PASSWORD=/);
    }
    const app = (await compose(project, ['exec', '-T', 'app', 'ls', '-a', '/srv'], env)).split('\n');
    expect(app).not.toContain('.env');
    expect(app).toEqual(expect.arrayContaining(['app', 'db', 'node_modules', 'package.json']));
  });

  it('passes nginx -t in the running nginx container', async () => {
    const out = await compose(project, ['exec', '-T', 'nginx', 'nginx', '-t'], env).catch((err: Error) => err.message);
    // nginx -t reports on stderr; a failure would have thrown with its output.
    expect(out).not.toMatch(/failed/);
  });
});
