import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';
import { statusAuthorization } from '../support/http.js';
import { recordResult } from '../support/results.js';

const run = promisify(execFile);

// An "outside client": a network namespace of its own, joined to the host by a veth pair
// that this test creates and removes. It reaches the host only as another machine would.
const id = randomInt(0x1000, 0xffff).toString(16);
const ns = `wsout-${id}`;
const hostIf = `wso${id}h`;
const nsIf = `wso${id}n`;
const subnet = randomInt(0, 255);
const hostAddress = `10.213.${subnet}.1`;
const clientAddress = `10.213.${subnet}.2`;

// The real docker-compose.yml, published on all addresses as on a VPS.
let stack: Stack;
let httpPort: number;
let httpsPort: number;
let ca: string;
let serverAddress: string;

const ip = (...args: string[]) => run('ip', args);
const fromOutside = (script: string) => run('ip', ['netns', 'exec', ns, 'bash', '-c', script], { timeout: 15_000 });

/** Whether a TCP connection from the outside client to address:port is accepted within 3 s. */
async function opens(address: string, port: number): Promise<boolean> {
  const { stdout } = await fromOutside(
    `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/${port}' 2>/dev/null && echo open || echo closed`,
  );
  return stdout.trim() === 'open';
}

/**
 * GET path over HTTPS from the outside client, verified against the stack's local CA, with
 * an Authorization header if given: "status protocol".
 */
async function httpsFromOutside(address: string, port: number, path = '/', authorization?: string): Promise<string> {
  const script = `
    const https = require('node:https');
    const headers = { host: 'www.foobar.com', ...(process.env.AUTH ? { authorization: process.env.AUTH } : {}) };
    https.get({ host: process.argv[1], port: Number(process.argv[2]), path: process.argv[3], servername: 'www.foobar.com',
      headers, ca: process.env.CA, timeout: 5000 },
      (res) => { console.log(res.statusCode, 'HTTP/' + res.httpVersion, res.socket.getProtocol()); res.resume(); })
      .on('error', (err) => console.log('error', err.message));`;
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', ns, process.execPath, '-e', script, address, String(port), path],
    {
      timeout: 15_000,
      env: { ...process.env, CA: ca, AUTH: authorization ?? '' },
    },
  );
  return stdout.trim();
}

/** The status line of GET path from the outside client over plain HTTP, with an Authorization header if given. */
async function statusFromOutside(address: string, port: number, path = '/', authorization?: string): Promise<string> {
  const auth = authorization ? `Authorization: ${authorization}\\r\\n` : '';
  const { stdout } = await fromOutside(
    `exec 3<>/dev/tcp/${address}/${port}; printf 'GET ${path} HTTP/1.1\\r\\nHost: www.foobar.com\\r\\n${auth}Connection: close\\r\\n\\r\\n' >&3; timeout 5 head -n 1 <&3`,
  );
  return stdout.trim();
}

beforeAll(async () => {
  stack = await startStack({
    project: `webstack-test-exposure-${randomBytes(3).toString('hex')}`,
    env: { HTTP_BIND: '0.0.0.0' },
  });
  httpPort = stack.httpPort;
  httpsPort = stack.port.port;
  ca = stack.port.ca;
  const info = await (await stack.container('server')).inspect();
  serverAddress = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress ?? '';
  await ip('netns', 'add', ns);
  await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  await ip('link', 'set', nsIf, 'netns', ns);
  await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
  await ip('link', 'set', hostIf, 'up');
  await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${clientAddress}/30`, 'dev', nsIf);
  await ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
  await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  // Route to the containers' bridge through the host, as a router would.
  await ip('netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', hostAddress);
});

afterAll(async () => {
  await ip('link', 'del', hostIf).catch(() => undefined);
  await ip('netns', 'del', ns).catch(() => undefined);
  await stack?.stop();
});

describe('exposure, seen from a separate network namespace (an outside client)', () => {
  it('reaches the site over HTTPS on the published port (certificate verified), and gets a redirect on port 80', async () => {
    expect(await httpsFromOutside(hostAddress, httpsPort)).toMatch(/^200 HTTP\/1\.1 TLSv1\.3$/);
    expect(await statusFromOutside(hostAddress, httpPort)).toMatch(/^HTTP\/1\.1 301 /);
  });

  it('finds 5000, 3306 and the metrics ports closed, on the host and on the server container alike', async () => {
    // Probed all at once: a closed port takes the whole 3 s timeout.
    const probes = Object.fromEntries(
      await Promise.all(
        (
          [
            ['host:http', opens(hostAddress, httpPort)],
            ['host:https', opens(hostAddress, httpsPort)],
            ['host:5000', opens(hostAddress, 5000)],
            ['host:3306', opens(hostAddress, 3306)],
            ['host:9100', opens(hostAddress, 9100)],
            ['server:80', opens(serverAddress, 80)],
            ['server:443', opens(serverAddress, 443)],
            ['server:5000', opens(serverAddress, 5000)],
            ['server:3306', opens(serverAddress, 3306)],
            ['server:9113', opens(serverAddress, 9113)],
            ['server:9100', opens(serverAddress, 9100)],
          ] as const
        ).map(async ([name, open]) => [name, await open] as const),
      ),
    );
    await recordResult('exposure', probes);
    expect(probes).toEqual({
      'host:http': true,
      'host:https': true,
      'host:5000': false,
      'host:3306': false,
      'host:9100': false,
      // Docker forwards only the published ports to the container.
      'server:80': true,
      'server:443': true,
      'server:5000': false,
      'server:3306': false,
      // nginx's stub_status and the monitor listen on the namespace's loopback only.
      'server:9113': false,
      'server:9100': false,
    });
  });

  it('gets the metrics and the status page only with the password, and only over HTTPS', async () => {
    const password = statusAuthorization(stack.env.STATUS_PASSWORD);
    const statuses = {
      metrics: await httpsFromOutside(hostAddress, httpsPort, '/status/metrics'),
      metricsWrongPassword: await httpsFromOutside(
        hostAddress,
        httpsPort,
        '/status/metrics',
        statusAuthorization('wrong'),
      ),
      metricsWithPassword: await httpsFromOutside(hostAddress, httpsPort, '/status/metrics', password),
      page: await httpsFromOutside(hostAddress, httpsPort, '/status/'),
      appInternal: await httpsFromOutside(hostAddress, httpsPort, '/internal/metrics'),
      // Port 80 never answers with the page or the metrics, password or not: only a redirect.
      plainHttpWithPassword: await statusFromOutside(hostAddress, httpPort, '/status/metrics', password),
    };
    expect(statuses).toEqual({
      metrics: '401 HTTP/1.1 TLSv1.3',
      metricsWrongPassword: '401 HTTP/1.1 TLSv1.3',
      metricsWithPassword: '200 HTTP/1.1 TLSv1.3',
      page: '401 HTTP/1.1 TLSv1.3',
      appInternal: '404 HTTP/1.1 TLSv1.3',
      plainHttpWithPassword: 'HTTP/1.1 301 Moved Permanently',
    });
  });
});
