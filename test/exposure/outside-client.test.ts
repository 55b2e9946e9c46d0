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

/** GET / over HTTPS from the outside client, verified against the stack's local CA: "status protocol". */
async function httpsFromOutside(address: string, port: number): Promise<string> {
  const script = `
    const https = require('node:https');
    https.get({ host: process.argv[1], port: Number(process.argv[2]), path: '/', servername: 'www.foobar.com',
      headers: { host: 'www.foobar.com' }, ca: process.env.CA, timeout: 5000 },
      (res) => { console.log(res.statusCode, 'HTTP/' + res.httpVersion, res.socket.getProtocol()); res.resume(); })
      .on('error', (err) => console.log('error', err.message));`;
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script, address, String(port)], {
    timeout: 15_000,
    env: { ...process.env, CA: ca },
  });
  return stdout.trim();
}

/** The status line of GET / from the outside client. */
async function statusFromOutside(address: string, port: number): Promise<string> {
  const { stdout } = await fromOutside(
    `exec 3<>/dev/tcp/${address}/${port}; printf 'GET / HTTP/1.1\\r\\nHost: www.foobar.com\\r\\nConnection: close\\r\\n\\r\\n' >&3; timeout 5 head -n 1 <&3`,
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

  it('finds 5000 and 3306 closed, on the host and on the server container alike', async () => {
    const probes = {
      'host:http': await opens(hostAddress, httpPort),
      'host:https': await opens(hostAddress, httpsPort),
      'host:5000': await opens(hostAddress, 5000),
      'host:3306': await opens(hostAddress, 3306),
      'server:80': await opens(serverAddress, 80),
      'server:443': await opens(serverAddress, 443),
      'server:5000': await opens(serverAddress, 5000),
      'server:3306': await opens(serverAddress, 3306),
    };
    await recordResult('exposure', probes);
    expect(probes).toEqual({
      'host:http': true,
      'host:https': true,
      'host:5000': false,
      'host:3306': false,
      // Docker forwards only the published ports to the container.
      'server:80': true,
      'server:443': true,
      'server:5000': false,
      'server:3306': false,
    });
  });
});
