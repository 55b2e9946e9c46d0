// scripts/vps end to end on a simulated VPS (test/vps/vps-env.ts): the bad inputs that must
// change nothing, setup from zero to https://www.foobar.com with Pebble's certificate,
// the second setup a no-op, the firewall from an outside client, a reboot, deploy and
// rollback under load over HTTPS, a refused release, backup pulled here and restore; settings
// changed and changed back under load (nginx's reloaded, the app's switched), a value nginx
// refuses and a database setting refused; the releases kept after many deploys, a rollback
// to a chosen one, exec and filtered logs.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { BASE_IMAGE_NAMES } from '../../scripts/tool/core/base-images.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { request } from '../../scripts/tool/core/http.js';
import { formatCounts, readWriteMix, runTraffic } from '../../scripts/tool/core/traffic.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { asRoot, shellQuote, sshOk } from '../../scripts/tool/remote/ssh.js';
import {
  SITE_DOMAIN,
  buildAcmeEnv,
  createNetwork,
  designZone,
  pebbleAnswers,
  startDns,
  startPebble,
  startRegistry,
  zoneText,
  type TestNetwork,
} from '../https/acme-env.js';
import { writeResult } from '../support/results.js';
import {
  buildVpsImage,
  makeKeys,
  openPorts,
  removeNetwork,
  siteSetup,
  startTranscript,
  startVps,
  vpsCommand,
  writeFile,
  type Vps,
} from './vps-env.js';
import { statusAuthorization } from '../support/http.js';

let network: TestNetwork;
let vps: Vps;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let root: string;
let env: NodeJS.ProcessEnv;
/** Setup's arguments: the deployment file (DEPLOY_FILE in env) holds everything else. */
const setupArgs = ['setup'];
/** The deployment file's vps section, as the test writes it. */
let vpsSection: Record<string, unknown>;
const writeDeployFile = (name: string, section: Record<string, unknown>) =>
  writeFile(keys.dir, name, stringify({ vps: section }));
/** The test's own registry (REGISTRY=host:port) and its certificate, trusted by both engines. */
let registry: string;
let registryCert: string;
const certsDir = (engineRegistry: string) => `/etc/docker/certs.d/${engineRegistry}`;
const timings: string[] = [];

const target = () => `root@${vps.address}`;
const onVps = (command: string) => sshOk(vps.host, asRoot(vps.host, command));
const api = (path: string, options = {}) =>
  request({ port: 443, ca: root, address: vps.address }, path, { host: SITE_DOMAIN, ...options });
/** Clients on the site over HTTPS until `until` settles (4 reading and writing, or 2 reading). */
const loadUntil = (until: Promise<unknown>, writes = false) =>
  runTraffic({
    port: { port: 443, ca: root, address: vps.address },
    connections: writes ? 4 : 2,
    until,
    ...(writes ? { mix: readWriteMix } : {}),
    maxDurationMs: 600_000,
  });
/** The first snapshot /status/events sends (server-sent events), read over HTTPS with the password. */
interface StatusSnapshot {
  parts: {
    dns: { health: string; detail: { records: string[] | null } };
    nginx: { detail: { certificateDaysLeft: number | null } };
  };
}
const firstStatusEvent = (authorization: string) =>
  new Promise<StatusSnapshot>((resolve, reject) => {
    const req = https.get(
      {
        host: vps.address,
        port: 443,
        path: '/status/events',
        servername: SITE_DOMAIN,
        headers: { host: SITE_DOMAIN, authorization },
        ca: root,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          const event = /^data: (.*)\n\n/m.exec(text);
          if (event) {
            resolve(JSON.parse(event[1]!) as StatusSnapshot);
            req.destroy();
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('/status/events sent nothing in 10 s')));
    req.on('error', reject);
  });
/** What must not exist on the server after a refused setup: no package, no firewall, no stack. */
const untouched = async () =>
  onVps(
    'echo docker=$(dpkg-query -W -f "\\${Status}" docker.io 2>/dev/null | grep -c installed); ' +
      'echo stack=$(test -e /opt/webstack && echo yes || echo no); echo tables=$(nft list tables 2>/dev/null | wc -l)',
  );
const UNTOUCHED = 'docker=0\nstack=no\ntables=0\n';

beforeAll(async () => {
  const started = performance.now();
  startTranscript();
  await Promise.all([buildAcmeEnv(), buildVpsImage()]);
  network = await createNetwork('h9vps-net');
  // The ACME side, the registry and the server do not wait on each other: they start together.
  const [answered] = await Promise.all([
    (async () => {
      // DNS as the careless owner left it: www points elsewhere (setup must refuse at first).
      await startDns(
        network,
        zoneText(`${SITE_DOMAIN}. 5 IN CNAME elsewhere.example.\nelsewhere.example. 5 IN A 192.0.2.1`),
      );
      return pebbleAnswers(network, await startPebble(network, 3600));
    })(),
    (async () => {
      registryCert = await startRegistry(network);
      registry = `${network.registry}:5000`;
      // This machine's engine pushes there: it trusts the registry as a real one's CA would be.
      mkdirSync(certsDir(registry), { recursive: true });
      writeFileSync(`${certsDir(registry)}/ca.crt`, registryCert);
    })(),
    (async () => {
      keys = await makeKeys();
      vps = await startVps(network, `${network.name}-vps`, network.stack, keys);
    })(),
  ]);
  root = answered.root;
  ({ section: vpsSection, env } = siteSetup(network, keys, vps.address, answered));
  env.DEPLOY_FILE = writeDeployFile('deploy.yml', vpsSection);
  timings.push(
    `images built, DNS, Pebble, registry and VPS up: ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}, 900_000);

afterAll(async () => {
  await vps?.remove();
  if (registry) {
    rmSync(certsDir(registry), { recursive: true, force: true });
    // The names the pushes gave the images here (the registry's address is new each run).
    const pushed = execFileSync('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' })
      .split('\n')
      .filter((ref) => ref.startsWith(`${registry}/`));
    if (pushed.length > 0) execFileSync('docker', ['rmi', ...pushed]);
  }
  if (network) await removeNetwork(network, ['dns', 'pebble', 'outside', 'registry']);
});

describe('bad input: a clear message, nothing changed on the server', { timeout: 300_000 }, () => {
  it('an unreachable host', async () => {
    const unreachable = network.stack.replace(/\.\d+$/, '.222');
    const result = await vpsCommand([...setupArgs, `root@${unreachable}`], env);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      new RegExp(`root@${unreachable.replace(/\./g, '\\.')} is unreachable: check the address`),
    );
  });

  it('a key the server does not accept', async () => {
    const other = await makeKeys();
    // The flag overrides the deployment file's key.
    const result = await vpsCommand([...setupArgs, '--identity', other.identity], env);
    expect(result.code).toBe(1);
    expect(result.output).toContain(`root@${vps.address} refused the key ${other.identity}`);
    expect(await untouched()).toBe(UNTOUCHED);
  });

  it('an operating system setup does not handle', async () => {
    await onVps(
      'cp /etc/os-release /root/os-release && printf \'ID=alpine\\nVERSION_ID=3.20\\nPRETTY_NAME="Alpine Linux v3.20"\\n\' > /etc/os-release',
    );
    try {
      const result = await vpsCommand(setupArgs, env);
      expect(result.code).toBe(1);
      expect(result.output).toContain('the server runs Alpine Linux v3.20, which setup does not handle');
      expect(result.output).toContain('nothing was changed on the server');
    } finally {
      await onVps('cp /root/os-release /etc/os-release');
    }
    expect(await untouched()).toBe(UNTOUCHED);
  });

  it('DNS that does not point at the server', async () => {
    const result = await vpsCommand(setupArgs, env);
    expect(result.code).toBe(1);
    expect(result.output).toContain(`${SITE_DOMAIN} is a CNAME to elsewhere.example`);
    expect(result.output).toContain('nothing was changed on the server: set the records');
    expect(await untouched()).toBe(UNTOUCHED);
  });
});

describe('setup from zero', { timeout: 900_000 }, () => {
  it("makes a fresh server serve https://www.foobar.com with Pebble's certificate", async () => {
    await startDns(network, designZone(vps.address));
    // As from a fresh clone: no base image named anywhere (no .env), so setup chooses them as
    // scripts/up does, the same ones this run's images were built from.
    const unnamed = Object.fromEntries(BASE_IMAGE_NAMES.map((name) => [name, undefined]));
    const result = await vpsCommand(setupArgs, { ...env, ...unnamed });
    timings.push(`setup from zero: ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.output, result.output).toContain(`live: https://${SITE_DOMAIN}/`);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/issuer: .*Pebble/);
    expect(result.output).toContain(
      `images: ${BASE_IMAGE_NAMES.map((name) => `${name}=${process.env[name]}`).join(' ')}`,
    );
    // Each step says which machine it is about.
    expect(result.output).toContain('building the release on this machine');
    expect(result.output).toContain(`starting the stack on root@${vps.address}`);
    expect(result.output).toContain(`checking https://${SITE_DOMAIN}/ from this machine`);
    expect(result.output).not.toMatch(/\b(here|there)\b/);
    expect(result.output).toContain('passwords generated on the server, which alone keeps them');
    const page = await api('/');
    expect(page.status).toBe(200);
    const post = await api('/api/posts', { method: 'POST', body: { author: 'vps', body: 'first post on the VPS' } });
    expect(post.status).toBe(201);
    // The passwords were made there and are only there.
    expect(await onVps('stat -c %a /opt/webstack/.env')).toBe('600\n');
    expect(result.output).not.toMatch(/MYSQL_(ROOT_)?PASSWORD=/);
  });

  it('a second setup with no flags changes nothing and says so', async () => {
    // Everything comes from the deployment file, the server too.
    const result = await vpsCommand(['setup'], env);
    timings.push(`setup again (no-op): ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`nothing to change: root@${vps.address} was already set up`);
    expect(result.output).not.toContain('changed:');
  });

  it('lets only 22, 80 and 443 in from outside, also for a port a container publishes', async () => {
    // A container someone publishes by hand: Docker's DNAT must not get around the firewall.
    await onVps(`docker run -d --name stray -p 8080:80 -p 5001:80 ${process.env.NGINX_IMAGE ?? 'nginx:1.28'}`);
    try {
      expect(await onVps('docker exec stray true && echo running')).toBe('running\n');
      const open = await openPorts(
        network,
        `${network.name}-outside`,
        vps.address,
        // The monitor's and stub_status's ports too: loopback only under host networking.
        [22, 80, 443, 3306, 5000, 5001, 8080, 9100, 9113],
      );
      expect(open).toEqual([22, 80, 443]);
    } finally {
      await onVps('docker rm -f stray');
    }
  });

  it('comes back after a reboot with every post', async () => {
    const before = (await api('/api/posts?limit=100')).json<{ posts: unknown[] }>().posts;
    await vps.reboot();
    await waitFor('the site answers after the reboot', async () => (await api('/api/health/ready')).status === 200, {
      timeoutMs: 180_000,
      intervalMs: 1_000,
    });
    expect((await api('/api/posts?limit=100')).json<{ posts: unknown[] }>().posts).toEqual(before);
    const open = await openPorts(network, `${network.name}-outside`, vps.address, [22, 80, 443, 3306, 5000]);
    expect(open).toEqual([22, 80, 443]);
  });
});

describe('operating the server', { timeout: 600_000 }, () => {
  it('deploys and rolls back under load over HTTPS with no failed request', async () => {
    const image = (await onVps(`docker inspect --format '{{.Image}}' webstack-app-1`)).trim();
    // The working tree is what setup shipped, so building it again would give the same image:
    // the new release is that image with a label of its own, shipped and switched to.
    const second = `webstack/app:${process.env.IMAGE_TAG}-vps-second`;
    execFileSync('docker', ['build', '-q', '-t', second, '-'], {
      input: `FROM webstack/app:${process.env.IMAGE_TAG}\nLABEL webstack.release=vps-second\n`,
    });
    // The app is the deployment file's: a ready image and its migrations folder (the sample's, copied).
    const migrations = path.join(keys.dir, 'second-migrations');
    cpSync(`${REPO_ROOT}app/migrations`, migrations, { recursive: true });
    const file = writeDeployFile('deploy-second.yml', { ...vpsSection, app: { image: second, migrations } });
    const deploying = vpsCommand(['deploy'], { ...env, DEPLOY_FILE: file });
    const duringDeploy = await loadUntil(deploying, true);
    const deployed = await deploying;
    timings.push(`deploy: ${(deployed.ms / 1000).toFixed(1)} s (ship, switch)`);
    expect(deployed.code, deployed.output).toBe(0);
    expect(duringDeploy.failed, formatCounts(duringDeploy)).toBe(0);
    const newImage = (await onVps(`docker inspect --format '{{.Image}}' webstack-app-1`)).trim();
    expect(newImage).not.toBe(image);
    expect(await onVps(`docker inspect --format '{{index .Config.Labels "webstack.release"}}' webstack-app-1`)).toBe(
      'vps-second\n',
    );

    const rollingBack = vpsCommand(['rollback', target(), '--identity', keys.identity], env);
    const duringRollback = await loadUntil(rollingBack, true);
    const rolledBack = await rollingBack;
    timings.push(`rollback: ${(rolledBack.ms / 1000).toFixed(1)} s`);
    expect(rolledBack.code, rolledBack.output).toBe(0);
    expect(duringRollback.failed, formatCounts(duringRollback)).toBe(0);
    expect((await onVps(`docker inspect --format '{{.Image}}' webstack-app-1`)).trim()).toBe(image);
    writeResult(
      'vps-deploy.txt',
      `deploy under load: ${duringDeploy.total} requests, ${formatCounts(duringDeploy)}, failed ${duringDeploy.failed}\n` +
        `rollback under load: ${duringRollback.total} requests, ${formatCounts(duringRollback)}, failed ${duringRollback.failed}\n`,
    );
  });

  it('deploys through a registry when REGISTRY names one', async () => {
    const third = `webstack/app:${process.env.IMAGE_TAG}-vps-registry`;
    execFileSync('docker', ['build', '-q', '-t', third, '-'], {
      input: `FROM webstack/app:${process.env.IMAGE_TAG}\nLABEL webstack.release=vps-registry\n`,
    });
    const localId = execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', third], { encoding: 'utf8' });
    // The server's engine trusts the registry too, as it would a registry with a public certificate.
    await onVps(
      `mkdir -p ${certsDir(registry)} && printf '%s' ${shellQuote(registryCert)} > ${certsDir(registry)}/ca.crt`,
    );
    const deployed = await vpsCommand(['deploy', target(), '--identity', keys.identity, '--image', third], {
      ...env,
      REGISTRY: registry,
    });
    timings.push(`deploy through a registry: ${(deployed.ms / 1000).toFixed(1)} s (push, pull, switch)`);
    expect(deployed.code, deployed.output).toBe(0);
    expect(deployed.output).toContain(`pushing ${third} to ${registry}`);
    expect(deployed.output).not.toContain('docker save | ssh docker load');
    // The registry holds it, the server pulled it from there, and the live app runs it.
    const tags = await new Promise<string>((resolve, reject) =>
      https
        .get(`https://${registry}/v2/webstack/app/tags/list`, { ca: registryCert, timeout: 5_000 }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => resolve(body));
        })
        .on('error', reject),
    );
    expect(JSON.parse(tags).tags).toContain(`${process.env.IMAGE_TAG}-vps-registry`);
    expect(await onVps(`docker image inspect --format '{{.Id}}' ${registry}/${third}`)).toBe(localId);
    expect(await onVps(`docker inspect --format '{{.Image}}' webstack-app-1`)).toBe(localId);
    expect((await api('/api/health/ready')).status).toBe(200);
  });

  it('refuses a release that never gets ready; the old one keeps serving', async () => {
    const live = (await onVps(`docker inspect --format '{{.Id}}' webstack-app-1`)).trim();
    // Runs, but never listens: its ready check can never pass.
    const neverReady = `webstack/app:${process.env.IMAGE_TAG}-vps-never-ready`;
    execFileSync('docker', ['build', '-q', '-t', neverReady, '-'], {
      input: `FROM webstack/app:${process.env.IMAGE_TAG}\nCMD ["node", "-e", "setInterval(() => {}, 1000)"]\n`,
    });
    // Through the registry, which already holds every layer of it (only CMD differs): the
    // SSH stream would send all 430 MiB again for a test of refusal.
    const attempt = vpsCommand(
      ['deploy', target(), '--identity', keys.identity, '--image', neverReady, '--ready-timeout', '15'],
      { ...env, REGISTRY: registry },
    );
    const load = await loadUntil(attempt);
    const result = await attempt;
    expect(result.code).toBe(1);
    expect(result.output).toContain('deploy refused, nothing was switched and the live app keeps serving');
    expect(load.failed, formatCounts(load)).toBe(0);
    expect((await onVps(`docker inspect --format '{{.Id}}' webstack-app-1`)).trim()).toBe(live);
    expect(await onVps('docker ps -a --format "{{.Names}}" --filter name=webstack-app-5001')).toBe('');
  });

  it('backs up to this machine; after the database volume is wiped, restore brings every row back', async () => {
    for (let i = 0; i < 20; i++) {
      expect(
        (await api('/api/posts', { method: 'POST', body: { author: 'backup', body: `row ${i} ✓ 𝄞` } })).status,
      ).toBe(201);
    }
    const all = async () => (await api('/api/posts?limit=100')).json<{ posts: unknown[] }>().posts;
    const before = await all();
    const dir = `${keys.dir}/backups`;
    const backedUp = await vpsCommand(['backup', target(), '--identity', keys.identity, '--dir', dir], env);
    timings.push(`backup pulled: ${(backedUp.ms / 1000).toFixed(1)} s`);
    expect(backedUp.code, backedUp.output).toBe(0);
    const file = /wrote (\S+\.sql\.gz)/.exec(backedUp.output)?.[1];
    expect(file).toBeDefined();

    await onVps(
      'cd /opt/webstack && docker compose stop app db && docker compose rm -f db && docker volume rm webstack_db-data && docker compose up -d --wait',
    );
    expect(await all()).toEqual([]);

    const restored = await vpsCommand(['restore', target(), '--identity', keys.identity, file!, '--yes'], env);
    timings.push(`restore: ${(restored.ms / 1000).toFixed(1)} s`);
    expect(restored.code, restored.output).toBe(0);
    expect(await all()).toEqual(before);
  });

  it('status, logs and ssh answer', async () => {
    const status = await vpsCommand(['status', target(), '--identity', keys.identity], env);
    expect(status.code, status.output).toBe(0);
    for (const service of ['db', 'app', 'certs', 'nginx'])
      expect(status.output).toMatch(new RegExp(`${service}\\s+running, healthy`));
    expect(status.output).toMatch(/certificate: .*Pebble.*days left/);
    expect(status.output).toMatch(/disk \/: \d+ MB free/);
    expect(status.output).toMatch(/last release event: \S+ (deploy|rollback)/);
    // /status: closed without the password setup generated on the server, open with it.
    const password = (await onVps("sed -n 's/^STATUS_PASSWORD=//p' /opt/webstack/.env")).trim();
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect((await api('/status/metrics')).status).toBe(401);
    const authorization = statusAuthorization(password);
    const metrics = await api('/status/metrics', { headers: { authorization } });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^nginx_http_requests \d+/m);
    // The whiteboard's DNS box: the records as they resolve now, through the resolver setup
    // was given (the test's BIND); the nginx box: days left on Pebble's one-hour certificate.
    const snapshot = await firstStatusEvent(authorization);
    expect(snapshot.parts.dns.health).toBe('up');
    expect(snapshot.parts.dns.detail.records).toEqual(
      expect.arrayContaining([`foobar.com A ${vps.address}`, `${SITE_DOMAIN} CNAME foobar.com`]),
    );
    expect(snapshot.parts.nginx.detail.certificateDaysLeft, JSON.stringify(snapshot.parts.nginx.detail)).toBe(0);
    const logs = await vpsCommand(['logs', target(), '--identity', keys.identity, 'nginx', '--tail', '5'], env);
    expect(logs.code, logs.output).toBe(0);
    expect(logs.output).toContain('nginx-1');
    // Into a pipe: plain text, no colours or line clearing.
    expect(logs.output).not.toContain('\x1b');
  });

  it('a sudo user: setup lets it use Docker and changes nothing else; status and ssh work as it', async () => {
    await onVps(
      'id deployer >/dev/null 2>&1 || useradd -m -s /bin/bash deployer; ' +
        'install -d -m 700 -o deployer -g deployer /home/deployer/.ssh && ' +
        'install -m 600 -o deployer -g deployer /root/.ssh/authorized_keys /home/deployer/.ssh/ && ' +
        "echo 'deployer ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deployer && chmod 440 /etc/sudoers.d/deployer",
    );
    const deployer = `deployer@${vps.address}`;
    const liveApp = () => onVps(`docker inspect --format '{{.Id}}' webstack-app-1`);
    const before = await liveApp();
    const setupAs = await vpsCommand([...setupArgs, deployer], env);
    expect(setupAs.code, setupAs.output).toBe(0);
    expect(setupAs.output.match(/changed: .*/g)).toEqual(['changed: deployer may use Docker (group docker)']);
    expect(setupAs.output).toContain('ok: every service running and healthy');
    expect(await liveApp()).toBe(before);
    const status = await vpsCommand(['status', deployer, '--identity', keys.identity], env);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toMatch(/app\s+running, healthy/);
    // Piped commands instead of a terminal: a shell in the stack's folder as root (through
    // sudo), then one in the app's container.
    const shell = await vpsCommand(['ssh', deployer, '--identity', keys.identity], env, { input: 'pwd; id -un\n' });
    expect(shell.code, shell.output).toBe(0);
    expect(shell.output).toContain('/opt/webstack\nroot\n');
    const inApp = await vpsCommand(['ssh', deployer, '--identity', keys.identity, 'app'], env, {
      input: 'node -e "console.log(process.version)"\n',
    });
    expect(inApp.code, inApp.output).toBe(0);
    expect(inApp.output).toMatch(/^v24\./m);
  });

  it('setup with settings changed names them, never their values, and keeps the passwords; under load each goes live with no failed request', async () => {
    const passwords = () => onVps("grep '^MYSQL_' /opt/webstack/.env");
    const stackFiles = () => onVps('cd /opt/webstack && md5sum .env nginx.env');
    const containerId = (service: string) => onVps(`docker inspect --format '{{.Id}}' webstack-${service}-1`);
    const appPoolSize = () =>
      onVps(
        "docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' webstack-app-1 | grep '^DB_POOL_SIZE='",
      );
    /** Six writes one after the other: how many nginx let through (201) and how many it limited (429). */
    const writeBurst = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push(
          (await api('/api/posts', { method: 'POST', body: { author: 'limit', body: `burst ${i}` } })).status,
        );
      return { created: statuses.filter((s) => s === 201).length, limited: statuses.filter((s) => s === 429).length };
    };
    const before = await passwords();
    const [nginxBefore, appBefore] = [await containerId('nginx'), await containerId('app')];
    expect(await writeBurst()).toEqual({ created: 6, limited: 0 });

    // A flag overrides the file's setting; a setting the file no longer has is removed, by name.
    // (A setting whose default suits the others: the ACME retries' default minimum exceeds the maximum set here.)
    // Writes limited to 1 a minute (nginx's), the app's pool (the app's), the ACME retries (the certs service's).
    const { RATE_LIMIT_READS_BURST: dropped, ...kept } = vpsSection.settings as Record<string, string>;
    expect(dropped).toBeDefined();
    const file = writeDeployFile('deploy-dropped.yml', { ...vpsSection, settings: kept });
    const changedFlags = ['--set', 'ACME_RETRY_MAX_SECONDS=5', '--set', 'RATE_LIMIT_WRITES=1r/m'];
    changedFlags.push('--set', 'RATE_LIMIT_WRITES_BURST=2', '--set', 'DB_POOL_SIZE=4');
    const changing = vpsCommand([...setupArgs, ...changedFlags], { ...env, DEPLOY_FILE: file });
    const duringChange = await loadUntil(changing);
    const result = await changing;
    timings.push(`setup with settings changed: ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code, result.output).toBe(0);
    expect(duringChange.failed, formatCounts(duringChange)).toBe(0);
    expect(result.output).toContain(
      'changed: updated the settings ACME_RETRY_MAX_SECONDS, DB_POOL_SIZE, RATE_LIMIT_READS_BURST, RATE_LIMIT_WRITES, RATE_LIMIT_WRITES_BURST in /opt/webstack/.env; passwords kept',
    );
    expect(result.output).toContain(
      `removed: RATE_LIMIT_READS_BURST (set by an earlier setup, now in neither ${file} nor the flags); to keep it, add vps.settings.RATE_LIMIT_READS_BURST to ${file}`,
    );
    expect(result.output).not.toMatch(/(ACME_RETRY_M.._SECONDS|RATE_LIMIT_WRITES|DB_POOL_SIZE)=/);
    expect(await onVps("grep -c '^RATE_LIMIT_READS_BURST=' /opt/webstack/.env || true")).toBe('0\n');
    expect(await passwords()).toBe(before);
    // nginx reloaded in place, and enforces the new limit; the app was switched to a new container with its new pool.
    expect(await containerId('nginx')).toBe(nginxBefore);
    const limited = await writeBurst();
    expect(limited.created).toBeLessThanOrEqual(3);
    expect(limited.limited).toBeGreaterThanOrEqual(3);
    expect(await containerId('app')).not.toBe(appBefore);
    expect(await appPoolSize()).toBe('DB_POOL_SIZE=4\n');

    // A value nginx rejects: said, the files put back, and the running limit still in force.
    const files = await stackFiles();
    const bad = await vpsCommand([...setupArgs, ...changedFlags, '--set', 'RATE_LIMIT_WRITES=fast'], {
      ...env,
      DEPLOY_FILE: file,
    });
    timings.push(`setup with a value nginx refuses: ${(bad.ms / 1000).toFixed(1)} s`);
    expect(bad.code, bad.output).toBe(1);
    expect(bad.output).toContain('nginx refused the new settings (RATE_LIMIT_WRITES); the previous ones are back');
    expect(bad.output).toContain('invalid rate "rate=fast"');
    expect(await stackFiles()).toBe(files);
    expect(await containerId('nginx')).toBe(nginxBefore);
    expect((await writeBurst()).limited).toBeGreaterThanOrEqual(4);
    expect((await api('/api/health/ready')).status).toBe(200);

    // The database's setting: refused before anything changes, naming it and the flag.
    const db = await containerId('db');
    const refused = await vpsCommand([...setupArgs, ...changedFlags, '--set', 'MYSQL_DATABASE=renamed'], {
      ...env,
      DEPLOY_FILE: file,
    });
    timings.push(`setup refusing a database restart: ${(refused.ms / 1000).toFixed(1)} s`);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain('MYSQL_DATABASE changed: the database takes it only on a restart');
    expect(refused.output).toContain('run setup again with --restart-db');
    expect(await stackFiles()).toBe(files);
    expect(await containerId('db')).toBe(db);

    // Back to the deployment file's settings, under load as well: writes unlimited, the default pool (docker-compose.yml's).
    const restoring = vpsCommand(setupArgs, env);
    const duringRestore = await loadUntil(restoring);
    const restored = await restoring;
    timings.push(`setup back to the file's settings: ${(restored.ms / 1000).toFixed(1)} s`);
    expect(restored.code, restored.output).toBe(0);
    expect(duringRestore.failed, formatCounts(duringRestore)).toBe(0);
    expect(await containerId('nginx')).toBe(nginxBefore);
    expect(await writeBurst()).toEqual({ created: 6, limited: 0 });
    expect(await appPoolSize()).toBe('DB_POOL_SIZE=10\n');
    writeResult(
      'vps-settings.txt',
      `settings changed under load: ${duringChange.total} requests, ${formatCounts(duringChange)}, failed ${duringChange.failed}\n` +
        `settings back under load: ${duringRestore.total} requests, ${formatCounts(duringRestore)}, failed ${duringRestore.failed}\n`,
    );
  });
});

describe(
  'releases on the server: the last 5 kept, any one back, a command in the app, logs filtered',
  { timeout: 900_000 },
  () => {
    /** The live app's image id on the server. */
    const liveImage = async () =>
      (await onVps(`docker inspect --format '{{.Image}}' webstack-app-1`)).trim().slice(7, 19);
    /** scripts/vps releases' lines: [id, name, live]. */
    const listed = async () => {
      const result = await vpsCommand(['releases', target(), '--identity', keys.identity], env);
      expect(result.code, result.output).toBe(0);
      return result.output
        .trim()
        .split('\n')
        .map((line) => /^(LIVE)?\s+([0-9a-f]{12}) {2}(\S+) {2}/.exec(line))
        .filter((match) => match !== null)
        .map(([, live, id, name]) => ({ id: id!, name: name!, live: live === 'LIVE' }));
    };
    /**
     * Releases made here: the app this run built with a label and a layer of their own
     * (PAD_MIB of random bytes, so that removing one frees space a test can see).
     */
    const made: string[] = [];
    const PAD_MIB = 4;
    const release = (label: string) => {
      const ref = `webstack/app:${process.env.IMAGE_TAG}-${label}`;
      execFileSync('docker', ['build', '-q', '-t', ref, '-'], {
        input: `FROM webstack/app:${process.env.IMAGE_TAG}\nLABEL webstack.release=${label}\nRUN head -c ${PAD_MIB}M /dev/urandom > /tmp/release-pad\n`,
      });
      made.push(ref);
      return ref;
    };
    let kept: Array<{ id: string; name: string; live: boolean }>;

    beforeAll(async () => {
      // Through the test's registry, which holds every layer already: only each image's config moves.
      await onVps(
        `mkdir -p ${certsDir(registry)} && printf '%s' ${shellQuote(registryCert)} > ${certsDir(registry)}/ca.crt`,
      );
    });

    afterAll(() => {
      if (made.length > 0) execFileSync('docker', ['rmi', ...made]);
    });

    it('each deploy leaves the 5 most recently live releases, the newest live; the others and stray app images go', async () => {
      const before = await listed();
      // Seven releases live one after the other at least: those already there and new ones.
      const count = Math.max(2, 7 - before.length);
      const started = performance.now();
      let last = '';
      for (let i = 1; i <= count; i++) {
        const ref = release(`keep-${i}`);
        const deployed = await vpsCommand(['deploy', target(), '--identity', keys.identity, '--image', ref], {
          ...env,
          REGISTRY: registry,
        });
        expect(deployed.code, deployed.output).toBe(0);
        last = deployed.output;
      }
      timings.push(
        `${count} deploys through the registry, each pruning: ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(last).toMatch(
        /pruning root@\S+: keeping the 5 most recently live releases, and the live and the previous one always/,
      );
      expect(last).toMatch(/MiB freed \(images and build cache: \d+ → \d+ MiB\)/);
      kept = await listed();
      const expected = [...made.slice(-count).reverse(), ...before.map((r) => r.name)].slice(0, 5);
      expect(kept.map((r) => r.name)).toEqual(expected);
      expect(kept[0]!.live).toBe(true);
      expect(kept[0]!.id).toBe(await liveImage());
      // No other app image is left: the releases removed, the refused one never live.
      const appImages = (await onVps("docker image ls --format '{{.ID}}' webstack/app | sort -u")).trim().split('\n');
      expect(appImages.sort()).toEqual(kept.map((r) => r.id).sort());
    });

    it('rolls back to the oldest kept release under load with no failed request; the list shows it live', async () => {
      const oldest = kept.at(-1)!;
      const rollingBack = vpsCommand(['rollback', target(), oldest.name, '--identity', keys.identity], env);
      const load = await loadUntil(rollingBack);
      const rolledBack = await rollingBack;
      timings.push(`rollback to a chosen release: ${(rolledBack.ms / 1000).toFixed(1)} s`);
      expect(rolledBack.code, rolledBack.output).toBe(0);
      expect(rolledBack.output).toContain(`rolling back to ${oldest.name} (${oldest.id})`);
      expect(load.failed, formatCounts(load)).toBe(0);
      expect(await liveImage()).toBe(oldest.id);
      expect((await api('/api/health/ready')).status).toBe(200);
      const now = await listed();
      expect(now[0]).toEqual({ ...oldest, live: true });
      expect(now.filter((r) => r.live)).toHaveLength(1);
    });

    it('an unknown release is refused by name, and nothing changes', async () => {
      const record = () => onVps('md5sum /opt/webstack/releases.log; docker image ls -q --no-trunc | sort | md5sum');
      const [live, before] = [await liveImage(), await record()];
      const result = await vpsCommand(
        ['rollback', target(), 'webstack/app:no-such-release', '--identity', keys.identity],
        env,
      );
      expect(result.code).toBe(1);
      expect(result.output).toContain(`no release webstack/app:no-such-release on root@${vps.address}; its releases: `);
      expect(result.output).toContain('nothing was changed');
      expect(await liveImage()).toBe(live);
      expect(await record()).toBe(before);
      expect(await onVps('test -e /opt/webstack/.lock && echo locked || echo free')).toBe('free\n');
    });

    it('prune on demand keeps the live release and the previous one, and says what it removed and freed', async () => {
      const [live, previous] = (await listed()).slice(0, 2);
      const pruned = await vpsCommand(['prune', target(), '--keep', '1', '--identity', keys.identity], env);
      timings.push(`prune: ${(pruned.ms / 1000).toFixed(1)} s`);
      expect(pruned.code, pruned.output).toBe(0);
      const freed = /kept 2 releases; removed 3 releases, .*; (\d+) MiB freed/.exec(pruned.output);
      expect(freed, pruned.output).not.toBeNull();
      // The three removed releases' own layers at least.
      expect(Number(freed![1])).toBeGreaterThanOrEqual(3 * PAD_MIB);
      writeResult('vps-prune.txt', pruned.output);
      expect(await listed()).toEqual([live, previous]);
      expect(await liveImage()).toBe(live!.id);
    });

    it("every container's log is capped as docker-compose.yml's x-logging says", async () => {
      const { options } = (
        parse(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8')) as { 'x-logging': { options: object } }
      )['x-logging'];
      const caps = await onVps(
        "docker ps -a --filter label=com.docker.compose.project=webstack --format '{{.Names}}' | xargs docker inspect --format '{{.Name}} {{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}'",
      );
      const lines = caps.trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(5);
      for (const line of lines) {
        const [name, type, config] = line.split(' ');
        expect(type, name).toBe('json-file');
        expect(JSON.parse(config!), name).toEqual(options);
      }
    });

    it('exec runs a command in the live app, its output here and its exit code', async () => {
      const result = await vpsCommand(
        [
          'exec',
          target(),
          '--identity',
          keys.identity,
          '--',
          'node',
          '-e',
          'console.log("port", process.env.PORT); process.exit(3)',
        ],
        env,
      );
      expect(result.code, result.output).toBe(3);
      expect(result.output).toContain('port 5000\n');
      expect((await vpsCommand(['exec', target(), '--identity', keys.identity, '--', 'true'], env)).code).toBe(0);
    });

    it('logs --grep shows only the matching lines, --since only those since then', async () => {
      const token = `releases-${Date.now()}`;
      await api(`/${token}`);
      const logs = (since: string) =>
        vpsCommand(
          ['logs', target(), 'nginx', '--tail', '1000', '--since', since, '--grep', token, '--identity', keys.identity],
          env,
        );
      // nginx writes its access log at least once a second.
      const recent = await waitFor(
        'the request is in the logs',
        async () => {
          const result = await logs('10m');
          return result.output.includes(token) && result;
        },
        { timeoutMs: 30_000, intervalMs: 1_000 },
      );
      expect(recent.code, recent.output).toBe(0);
      for (const line of recent.output.trim().split('\n')) expect(line).toMatch(new RegExp(`^nginx-1 +\\| .*${token}`));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const later = await logs('2s');
      expect(later.code, later.output).toBe(0);
      expect(later.output).not.toContain(token);
      const bad = await vpsCommand(['logs', target(), '--since', 'soon', '--identity', keys.identity], env);
      expect(bad.code).toBe(2);
      expect(bad.output).toContain('--since soon: give a duration back from now');
    });
  },
);

afterAll(() => {
  writeResult('vps-times.txt', `${timings.join('\n')}\n`);
  console.log(timings.join('\n'));
});
