import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';
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

/** The status line of GET path from the outside client, with an Authorization header if given. */
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
  httpPort = stack.port;
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
  it('reaches the site on the published HTTP port', async () => {
    expect(await statusFromOutside(hostAddress, httpPort)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('finds 5000, 3306 and the metrics ports closed, on the host and on the server container alike', async () => {
    const probes = {
      'host:http': await opens(hostAddress, httpPort),
      'host:5000': await opens(hostAddress, 5000),
      'host:3306': await opens(hostAddress, 3306),
      'host:9100': await opens(hostAddress, 9100),
      'server:80': await opens(serverAddress, 80),
      'server:5000': await opens(serverAddress, 5000),
      'server:3306': await opens(serverAddress, 3306),
      'server:9113': await opens(serverAddress, 9113),
      'server:9100': await opens(serverAddress, 9100),
    };
    await recordResult('exposure', probes);
    expect(probes).toEqual({
      'host:http': true,
      'host:5000': false,
      'host:3306': false,
      'host:9100': false,
      // Docker forwards only the published port to the container.
      'server:80': true,
      'server:5000': false,
      'server:3306': false,
      // nginx's stub_status and the monitor listen on the namespace's loopback only.
      'server:9113': false,
      'server:9100': false,
    });
  });

  it('gets the metrics and the status page only with the password', async () => {
    const basic = (password: string) => `Basic ${Buffer.from(`status:${password}`).toString('base64')}`;
    const statuses = {
      metrics: await statusFromOutside(hostAddress, httpPort, '/status/metrics'),
      metricsWrongPassword: await statusFromOutside(hostAddress, httpPort, '/status/metrics', basic('wrong')),
      metricsWithPassword: await statusFromOutside(
        hostAddress,
        httpPort,
        '/status/metrics',
        basic(stack.env.STATUS_PASSWORD as string),
      ),
      page: await statusFromOutside(hostAddress, httpPort, '/status/'),
      appInternal: await statusFromOutside(hostAddress, httpPort, '/internal/metrics'),
    };
    expect(statuses).toEqual({
      metrics: 'HTTP/1.1 401 Unauthorized',
      metricsWrongPassword: 'HTTP/1.1 401 Unauthorized',
      metricsWithPassword: 'HTTP/1.1 200 OK',
      page: 'HTTP/1.1 401 Unauthorized',
      appInternal: 'HTTP/1.1 404 Not Found',
    });
  });
});
