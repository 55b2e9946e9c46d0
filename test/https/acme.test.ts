// HTTPS with a real ACME CA, offline: the compose stack issues its certificate from
// Pebble over HTTP-01 through nginx's port 80, after the DNS check passes against the
// test's own authoritative server; then renews under load, and rides out Pebble being down.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedCertificate } from '../../scripts/tool/cert/status.js';
import { compose } from '../../scripts/tool/core/compose.js';
import { docker, publishedPort, removeContainer, serviceContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { request } from '../../scripts/tool/core/http.js';
import { siteEndpoint } from '../../scripts/tool/core/site.js';
import { formatCounts, readMix, runTraffic } from '../../scripts/tool/core/traffic.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { dnsCheck } from '../../scripts/tool/dns/commands.js';
import { isolatedEnv } from '../../scripts/tool/testing/stack.js';
import { launchTrusting, postThroughForm, steadily } from '../support/browser.js';
import { writeResult } from '../support/results.js';
import {
  APEX,
  CAA_IDENTITY,
  SITE_DOMAIN,
  buildAcmeEnv,
  createNetwork,
  designZone,
  pebbleApiCert,
  pebbleAnswers,
  pebbleOrders,
  pebbleRoot,
  startDns,
  startPebble,
  zoneText,
  type TestNetwork,
} from './acme-env.js';

/**
 * Pebble's certificates live this long, so renewal (at two thirds) comes after 40 s; an
 * attempt against a stopped Pebble gives up after ACME_HTTP_TIMEOUT_SECONDS (5 s here,
 * without acme-client's retries), well before the served certificate expires.
 */
const VALIDITY_SECONDS = 60;
const tag = imagesOf(process.env).tag;
const project = `webstack-test-https-${tag}`.toLowerCase();

let network: TestNetwork;
let pebble: string;
let env: NodeJS.ProcessEnv;
let httpsPort: number;
let httpPort: number;

/** DNS as a careless owner might leave it: no apex A, www pointing at another host. */
const wrongZone = () => zoneText(`${SITE_DOMAIN}. 5 IN CNAME elsewhere.example.\nelsewhere.example. 5 IN A 192.0.2.1`);

const certsState = async () =>
  JSON.parse(await compose(project, ['exec', '-T', 'certs', 'cat', '/certs/state.json'], env)) as {
    failures: number;
    lastError?: string;
    lastAttempt?: string;
  };

const served = () => servedCertificate(httpsPort, SITE_DOMAIN);

/** An HTTPS request verified against `ca` (Pebble's root, or the local CA). */
const get = (ca: string, path: string, host = SITE_DOMAIN) => request({ port: httpsPort, ca }, path, { host });

function alpn(ca: string): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: httpsPort, servername: SITE_DOMAIN, ca, ALPNProtocols: ['h2', 'http/1.1'] },
      () => {
        resolve(socket.alpnProtocol ?? false);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/** The server's answer to a client that speaks only TLS 1.1 (allowed on our side, so the refusal is nginx's). */
function tls11Handshake(): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: httpsPort,
      servername: SITE_DOMAIN,
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
      rejectUnauthorized: false,
    });
    socket.on('secureConnect', () => {
      resolve(`connected with ${socket.getProtocol()}`);
      socket.end();
    });
    socket.on('error', (err) => resolve(err.message));
  });
}

beforeAll(async () => {
  await buildAcmeEnv();
  network = await createNetwork(`webstack-test-https-${tag}`.toLowerCase());
  await startDns(network, wrongZone());
  pebble = await startPebble(network, VALIDITY_SECONDS);
  const { apiCert } = await pebbleAnswers(network, pebble);
  env = isolatedEnv(process.env, {
    SITE_DOMAIN,
    ACME_DIRECTORY: `https://${network.pebble}:14000/dir`,
    ACME_DIRECTORY_CA: apiCert,
    ACME_CAA_IDENTITY: CAA_IDENTITY,
    DNS_RESOLVER: `${network.dns}:53`,
    SERVER_IPV4: network.stack,
    HSTS_MAX_AGE: '600',
    ACME_RETRY_MIN_SECONDS: '2',
    ACME_RETRY_MAX_SECONDS: '4',
    ACME_HTTP_TIMEOUT_SECONDS: '5',
    ACME_HTTP_RETRIES: '0',
  });
  // The server container joins the test network at its fixed address before anything starts.
  await compose(project, ['create'], env);
  const server = await serviceContainer(project, 'server');
  await docker
    .getNetwork(network.name)
    .connect({ Container: server.id, EndpointConfig: { IPAMConfig: { IPv4Address: network.stack } } });
  await compose(project, ['up', '-d', '--wait'], env);
  httpsPort = await publishedPort(server, 443);
  httpPort = await publishedPort(server, 80);
}, 600_000);

afterAll(async () => {
  if (env) await compose(project, ['down', '--volumes', '--remove-orphans'], env).catch(() => '');
  if (network) {
    for (const name of [`${network.name}-dns`, `${network.name}-pebble`]) await removeContainer(name);
    await network.remove();
  }
});

describe('certificates from an ACME CA (Pebble), DNS checked first', () => {
  it("refuses to order while DNS is wrong, with the check's message, and serves the local certificate meanwhile", async () => {
    await waitFor(
      'the certs service has run the DNS check',
      async () => /^dns-check:/.test((await certsState()).lastError ?? ''),
      { timeoutMs: 60_000 },
    );
    const { lastError } = await certsState();
    expect(lastError).toContain(`${APEX} has no A record`);
    expect(lastError).toContain(`${SITE_DOMAIN} is a CNAME to elsewhere.example`);
    // The same words as the command a person would run.
    const check = await dnsCheck({
      domain: SITE_DOMAIN,
      resolver: `${network.dns}:53`,
      ipv4: network.stack,
      caa: CAA_IDENTITY,
    });
    expect(check.ok).toBe(false);
    for (const problem of lastError!.replace(/^dns-check: /, '').split('; ')) expect(check.report).toContain(problem);
    // Pebble never saw an order, and the site is up with the local CA's certificate.
    expect(await pebbleOrders(pebble)).toBe(0);
    const page = await get((await siteEndpoint(project)).ca, '/');
    expect(page.status).toBe(200);
    expect(page.headers['strict-transport-security']).toBeUndefined();
  });

  it("issues from zero once DNS is right: Pebble's chain, the right names, HTTP/2, TLS 1.1 refused, HSTS", async () => {
    await startDns(network, designZone(network.stack));
    const root = await pebbleRoot(network, await pebbleApiCert(pebble));
    // Three checks in a row: while nginx reloads onto the new certificate, its old workers
    // can still accept a connection or two with the local CA's certificate.
    let streak = 0;
    await waitFor(
      "the site serves only a certificate that verifies against Pebble's root",
      async () => {
        const settled = await Promise.all([get(root, '/'), served()]).then(
          ([page, cert]) => page.status === 200 && /Pebble/i.test(cert.issuer),
          () => false,
        );
        streak = settled ? streak + 1 : 0;
        return streak >= 3;
      },
      { timeoutMs: 90_000 },
    );
    expect(await pebbleOrders(pebble)).toBeGreaterThan(0);
    const cert = await served();
    expect(cert.names.sort()).toEqual([APEX, SITE_DOMAIN].sort());
    expect(cert.issuer).toMatch(/Pebble/i);
    const page = await get(root, '/');
    expect(page.headers['strict-transport-security']).toBe('max-age=600');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(root, '/api/posts?limit=1')).status).toBe(200);
    expect(await alpn(root)).toBe('h2');
    expect(await tls11Handshake()).toMatch(/alert protocol version/);
  });

  it('redirects http to https (path and query kept) and the apex to www; the ACME path and unknown hosts are not redirected', async () => {
    const root = await pebbleRoot(network, await pebbleApiCert(pebble));
    const plain = (path: string, host: string) => request(httpPort, path, { host });
    expect((await plain('/api/posts?limit=2&q=%20x', SITE_DOMAIN)).headers.location).toBe(
      `https://${SITE_DOMAIN}/api/posts?limit=2&q=%20x`,
    );
    expect((await plain('/a/b?c=d', APEX)).headers.location).toBe(`https://${SITE_DOMAIN}/a/b?c=d`);
    const apex = await get(root, '/a/b?c=d', APEX);
    expect(apex.status).toBe(301);
    expect(apex.headers.location).toBe(`https://${SITE_DOMAIN}/a/b?c=d`);
    const challenge = await plain('/.well-known/acme-challenge/unknown-token', SITE_DOMAIN);
    expect(challenge.status).toBe(404);
    expect(challenge.headers.location).toBeUndefined();
    expect((await plain('/', 'evil.example')).status).toBe(421);
    const unknown = await request({ port: httpsPort, ca: root }, '/', {
      host: 'evil.example',
      servername: SITE_DOMAIN,
    });
    expect(unknown.status).toBe(421);
    expect(unknown.body).not.toContain('<form');
  });

  it("serves the page to headless Chromium that trusts Pebble's root: a post round trip over HTTP/2", async () => {
    const root = await pebbleRoot(network, await pebbleApiCert(pebble));
    const chrome = await launchTrusting({ 'Pebble test root': root }, [
      `--host-resolver-rules=MAP ${SITE_DOMAIN} 127.0.0.1`,
    ]);
    try {
      const page = await chrome.browser.newPage();
      const response = await steadily(() => page.goto(`https://${SITE_DOMAIN}:${httpsPort}/`));
      expect(response?.status()).toBe(200);
      const security = await response!.securityDetails();
      expect(security?.issuer).toMatch(/Pebble/i);
      expect(security?.protocol).toBe('TLS 1.3');
      const navigationProtocol = 'performance.getEntriesByType("navigation")[0].nextHopProtocol';
      expect(await page.evaluate(navigationProtocol)).toBe('h2');
      await postThroughForm(page, 'chromium', 'posted over https ✓');
      expect(await page.locator('#posts li').first().textContent()).toContain('posted over https ✓');
    } finally {
      await chrome.close();
    }
  });

  it('renews at two thirds of the lifetime and reloads nginx under load with no failed request', async () => {
    const root = await pebbleRoot(network, await pebbleApiCert(pebble));
    const before = await served();
    let renewedAt = 0;
    const renewed = waitFor(
      'a new certificate is served',
      async () => {
        if ((await served()).fingerprint === before.fingerprint) return false;
        renewedAt = Date.now();
        return true;
      },
      { timeoutMs: VALIDITY_SECONDS * 1000 + 30_000 },
    ).then(() => sleep(3_000));
    const load = await runTraffic({
      port: { port: httpsPort, ca: root },
      connections: 4,
      until: renewed,
      maxDurationMs: VALIDITY_SECONDS * 1000 + 40_000,
      mix: readMix,
    });
    await renewed;
    const after = await served();
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.notBefore.getTime()).toBeGreaterThan(before.notBefore.getTime());
    expect(renewedAt).toBeGreaterThan(0);
    const nginxLog = await compose(project, ['logs', 'nginx'], env);
    expect(nginxLog).toMatch(/nginx reloaded/);
    writeResult(
      'https-renewal.txt',
      `renewal under load (4 connections, a new TLS connection per request): ${load.total} requests in ${(load.durationMs / 1000).toFixed(1)} s, ${load.failed} failed (${formatCounts(load)})`,
    );
    expect(load.total).toBeGreaterThan(0);
    expect(load.failed, formatCounts(load)).toBe(0);
  });

  it('keeps serving while Pebble is down, and gets a certificate from it once it is back', async () => {
    const oldRoot = await pebbleRoot(network, await pebbleApiCert(pebble));
    await docker.getContainer(pebble).stop();
    const stoppedAt = Date.now();
    await waitFor(
      'an ACME attempt failed because Pebble is down',
      async () => {
        const state = await certsState();
        return /^acme:/.test(state.lastError ?? '') && Date.parse(state.lastAttempt ?? '') > stoppedAt;
      },
      { timeoutMs: VALIDITY_SECONDS * 1000 + 30_000 },
    );
    expect((await get(oldRoot, '/')).status).toBe(200);
    await docker.getContainer(pebble).start();
    const newRoot = await (async () => {
      let root = '';
      await waitFor(
        'Pebble is back',
        async () => Boolean((root = await pebbleRoot(network, await pebbleApiCert(pebble)))),
        { timeoutMs: 30_000 },
      );
      return root;
    })();
    expect(newRoot).not.toBe(oldRoot);
    await waitFor(
      'the site serves a certificate from the restarted Pebble',
      async () => (await get(newRoot, '/')).status === 200,
      { timeoutMs: 60_000 },
    );
    expect((await certsState()).failures).toBe(0);
  });
});
