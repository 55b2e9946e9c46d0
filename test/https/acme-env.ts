// The test's own ACME world on a Docker network of its own: an authoritative DNS server
// (BIND 9) serving the zone scripts/dns generates, Pebble resolving through it, and the
// compose stack's server container attached at a fixed address. Nothing here talks to a
// real CA or resolver.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { formatZoneFile, zoneRecords } from '../../nginx/certs/src/zone.js';
import { buildImage, docker, execOk, logText, removeContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { waitFor } from '../../scripts/tool/core/wait.js';
import { TEST_LABEL } from '../support/labels.js';

const images = imagesOf(process.env);
const CONTEXT = fileURLToPath(new URL('./acme-env/', import.meta.url));
export const ACME_ENV_IMAGE = `webstack/acme-env:${images.tag}`;
export const SITE_DOMAIN = 'www.foobar.com';
export const APEX = 'foobar.com';
/** The CAA identity the zone allows and the certs service checks for. */
export const CAA_IDENTITY = 'pebble.test';

export async function buildAcmeEnv(): Promise<void> {
  await buildImage(CONTEXT, ACME_ENV_IMAGE, { BASE_IMAGE: images.nginxBase });
}

export interface TestNetwork {
  name: string;
  /** Fixed addresses on it: the DNS server, Pebble, the stack's server container, a registry. */
  dns: string;
  pebble: string;
  stack: string;
  registry: string;
  /** Another fixed address on it (host part 1-254), for the test's own containers. */
  at(host: number): string;
  remove(): Promise<void>;
}

/** A network with a subnet of its own (fixed addresses need one); retries on a taken subnet. */
export async function createNetwork(prefix: string): Promise<TestNetwork> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const [a, b] = [200 + (randomBytes(1)[0]! % 50), randomBytes(1)[0]! % 250];
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    try {
      await docker.createNetwork({
        Name: name,
        IPAM: { Config: [{ Subnet: `10.${a}.${b}.0/24` }] },
        Labels: TEST_LABEL,
      });
    } catch (err) {
      if (/overlap|Pool/i.test((err as Error).message)) continue;
      throw err;
    }
    const base = `10.${a}.${b}`;
    return {
      name,
      dns: `${base}.53`,
      pebble: `${base}.14`,
      stack: `${base}.80`,
      registry: `${base}.50`,
      at: (host) => `${base}.${host}`,
      remove: () =>
        docker
          .getNetwork(name)
          .remove()
          .catch(() => undefined),
    };
  }
  throw new Error('no free 10.x.y.0/24 subnet for the test network');
}

/** The zone as scripts/dns prints it, under the SOA and NS a DNS host would add. */
export function zoneText(records: string): string {
  return [
    `${APEX}. 60 IN SOA ns.${APEX}. hostmaster.${APEX}. 1 60 60 600 5`,
    `${APEX}. 60 IN NS ns.${APEX}.`,
    `ns.${APEX}. 60 IN A 127.0.0.1`,
    records,
  ].join('\n');
}

export const designZone = (stackAddress: string) =>
  zoneText(formatZoneFile(zoneRecords({ siteDomain: SITE_DOMAIN, ipv4: stackAddress, caaIdentity: CAA_IDENTITY }), 5));

/** A container of the test image at a fixed address on the test network. */
async function runAt(network: TestNetwork, name: string, ip: string, env: string[], cmd: string[]): Promise<string> {
  await removeContainer(name);
  const container = await docker.createContainer({
    name,
    Image: ACME_ENV_IMAGE,
    Env: env,
    Cmd: cmd,
    Labels: TEST_LABEL,
    HostConfig: { NetworkMode: network.name },
    NetworkingConfig: { EndpointsConfig: { [network.name]: { IPAMConfig: { IPv4Address: ip } } } },
  });
  await container.start();
  return name;
}

/** (Re)starts the DNS server with this zone. */
export async function startDns(network: TestNetwork, zone: string): Promise<string> {
  return runAt(network, `${network.name}-dns`, network.dns, [`ZONE=${zone}`], ['start-dns.sh', APEX]);
}

/** Starts Pebble (certificates valid for `validitySeconds`), resolving through the DNS server. */
export async function startPebble(network: TestNetwork, validitySeconds: number): Promise<string> {
  // No random sleep before validating; no deliberately rejected nonces (flaky retries).
  return runAt(
    network,
    `${network.name}-pebble`,
    network.pebble,
    ['PEBBLE_VA_NOSLEEP=1', 'PEBBLE_WFE_NONCEREJECT=0'],
    ['start-pebble.sh', network.pebble, network.dns, String(validitySeconds)],
  );
}

/** Starts a container registry at the network's registry address; resolves to its certificate once it answers. */
export async function startRegistry(network: TestNetwork): Promise<string> {
  const name = await runAt(
    network,
    `${network.name}-registry`,
    network.registry,
    [],
    ['start-registry.sh', network.registry],
  );
  return waitFor(
    'the registry answers',
    async () => {
      const cert = await execOk(docker.getContainer(name), ['cat', '/registry/cert.pem']);
      await execOk(docker.getContainer(name), ['bash', '-c', '</dev/tcp/127.0.0.1/5000']);
      return cert;
    },
    { timeoutMs: 30_000 },
  );
}

/** Pebble's API certificate (self-made at its start), for the certs service to trust. */
export const pebbleApiCert = (name: string) => execOk(docker.getContainer(name), ['cat', '/pebble/cert.pem']);

/** Pebble's current issuing root, from its management API (it changes at every start). */
export function pebbleRoot(network: TestNetwork, apiCert: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(`https://${network.pebble}:15000/roots/0`, { ca: apiCert, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`Pebble /roots/0 answered ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('Pebble /roots/0 did not answer in 5 s')));
    req.on('error', reject);
  });
}

/**
 * Waits until Pebble answers: its API certificate is written by its start script, so it is
 * read inside the wait too (a container under load may not have made it yet).
 */
export function pebbleAnswers(network: TestNetwork, name: string): Promise<{ apiCert: string; root: string }> {
  return waitFor(
    'Pebble answers',
    async () => {
      const apiCert = await pebbleApiCert(name);
      return { apiCert, root: await pebbleRoot(network, apiCert) };
    },
    { timeoutMs: 60_000 },
  );
}

/** How many ACME orders Pebble has taken since it started (it logs each one). */
export async function pebbleOrders(name: string): Promise<number> {
  // Pebble logs to stderr; logText has both streams.
  return ((await logText(docker.getContainer(name))).match(/Added order/g) ?? []).length;
}
