// What scripts/vps prints and chooses before it reaches a server: the base images (the
// same decision as scripts/up's), plain logs into a pipe, the server's .env changes by name.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { BASE_IMAGE_NAMES, ensureBaseImages } from '../../scripts/tool/core/base-images.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { missingImage } from '../../scripts/tool/remote/ship.js';
import { logsCommand, withoutEscapes } from '../../scripts/tool/vps/operate.js';

/** A `docker` that records its arguments and has every image ("image inspect" succeeds), so a registry "answers". */
function fakeDocker(): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'webstack-fake-docker-'));
  const log = path.join(dir, 'calls');
  writeFileSync(log, '');
  writeFileSync(
    path.join(dir, 'docker'),
    `#!/bin/sh\necho "$*" >> ${log}\n[ "$1 $2" = "image inspect" ] && exit 0\nexit 1\n`,
  );
  chmodSync(path.join(dir, 'docker'), 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  // Nothing given, as on a machine where scripts/up never ran (scripts/test exports them all).
  for (const name of [...BASE_IMAGE_NAMES, 'DEBIAN_IMAGE']) delete env[name];
  return { env, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

/** images.sh's own value of a variable: the test compares with it instead of repeating the defaults. */
const imagesSh = (name: string) =>
  execFileSync('bash', ['-c', `source scripts/lib/images.sh && printf %s "$${name}"`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });

describe('scripts/vps: the base images, chosen as scripts/up chooses them', () => {
  it('takes the official images where a registry answers, from scripts/lib/images.sh', async () => {
    const docker = fakeDocker();
    const lines: string[] = [];
    const env = await ensureBaseImages(docker.env, (line) => lines.push(line));
    expect(env.MYSQL_IMAGE).toBe(imagesSh('OFFICIAL_MYSQL_IMAGE'));
    expect(env.NGINX_IMAGE).toBe(imagesSh('OFFICIAL_NGINX_IMAGE'));
    expect(env.NODE_IMAGE).toBe(imagesSh('OFFICIAL_NODE_IMAGE'));
    expect(env.DEBIAN_IMAGE).toBe(imagesSh('OFFICIAL_DEBIAN_IMAGE'));
    expect(lines.join('\n')).toContain(`images: MYSQL_IMAGE=${env.MYSQL_IMAGE}`);
    expect(docker.calls()).toContain(`image inspect ${imagesSh('OFFICIAL_NGINX_IMAGE')}`);
  });

  it('keeps names already given (environment or .env) and probes no registry for them', async () => {
    const docker = fakeDocker();
    const given = { MYSQL_IMAGE: 'example/mariadb:11', NGINX_IMAGE: 'example/nginx:1', NODE_IMAGE: 'example/node:24' };
    const env = await ensureBaseImages({ ...docker.env, ...given }, () => undefined);
    expect(env).toMatchObject(given);
    expect(docker.calls().filter((call) => call.startsWith('pull'))).toEqual([]);
  });

  it('passes on the CA bundle image builds trust', async () => {
    const docker = fakeDocker();
    const bundle = path.join(REPO_ROOT, 'package.json'); // any readable file stands for one
    const env = await ensureBaseImages({ ...docker.env, BUILD_CA_BUNDLE: bundle }, () => undefined);
    expect(env.BUILD_CA_BUNDLE).toBe(bundle);
  });

  it('fills in only the missing ones', async () => {
    const docker = fakeDocker();
    const env = await ensureBaseImages({ ...docker.env, MYSQL_IMAGE: 'example/mariadb:11' }, () => undefined);
    expect(env.MYSQL_IMAGE).toBe('example/mariadb:11');
    expect(env.NGINX_IMAGE).toBe(imagesSh('OFFICIAL_NGINX_IMAGE'));
  });

  it('says what to do about an image to ship that this machine lacks', () => {
    expect(missingImage('webstack/app:v2', false)).toBe(
      'image webstack/app:v2 is not on this machine: build it, or docker pull webstack/app:v2, then run this again',
    );
    const failed = missingImage(
      'mysql:8',
      true,
      'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host\n',
    );
    expect(failed).toContain('docker pull mysql:8 failed (Error response from daemon: Get');
    expect(failed).toContain('run docker pull mysql:8 where a registry answers, or give a base image this machine has');
  });
});

describe('scripts/vps logs into a pipe', () => {
  it('asks compose for no colours unless the output is a terminal', () => {
    expect(logsCommand({ tail: 5, service: 'nginx' }, false)).toBe(
      'cd /opt/webstack && docker compose logs --tail 5 --no-color nginx',
    );
    expect(logsCommand({ tail: 100, follow: true }, true)).toBe(
      'cd /opt/webstack && docker compose logs --tail 100 --follow',
    );
  });

  it('removes terminal escapes, also ones split between chunks, and keeps the text', async () => {
    const bytes = Buffer.from(
      '\x1b[2K\x1b[36mnginx-1  | \x1b[0mGET / 200\nnginx-1  | line two \x1b[2K✓ 𝄞 end\nno newline at the end \x1b[31mred\x1b[0m',
    );
    // Cut inside an escape sequence and inside the four bytes of 𝄞.
    const cuts = [bytes.indexOf('\x1b[2K✓') + 2, bytes.indexOf('𝄞') + 2];
    const chunks = [bytes.subarray(0, cuts[0]), bytes.subarray(cuts[0], cuts[1]), bytes.subarray(cuts[1])];
    const out = await text(Readable.from(chunks).pipe(withoutEscapes()));
    expect(out).toBe('nginx-1  | GET / 200\nnginx-1  | line two ✓ 𝄞 end\nno newline at the end red');
  });
});

describe("scripts/vps setup: the server's .env (server/env.sh, run here on a folder)", () => {
  const envSh = (dir: string, settings: string) =>
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts/tool/vps/server/env.sh'), dir], {
      input: settings,
      encoding: 'utf8',
    });

  it('names the settings it changed or removed, never their values, and keeps the passwords', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'webstack-env-sh-')), 'stack');
    expect(envSh(dir, 'SITE_DOMAIN=www.a.test\nRATE_LIMIT_READS=10r/s\n')).toBe(
      'settings: MYSQL_PASSWORD MYSQL_ROOT_PASSWORD RATE_LIMIT_READS SITE_DOMAIN STATUS_PASSWORD\n' +
        `changed: wrote ${dir}/.env with passwords generated on the server, which alone keeps them (mode 600)\n`,
    );
    const password = /^MYSQL_PASSWORD=(.+)$/m.exec(readFileSync(`${dir}/.env`, 'utf8'))?.[1];
    expect(envSh(dir, 'SITE_DOMAIN=www.a.test\nRATE_LIMIT_READS=10r/s\n')).toBe(`ok: ${dir}/.env is up to date\n`);
    const changed = envSh(dir, 'SITE_DOMAIN=www.b.test\nACME_EMAIL=me@b.test\n');
    // A setting the earlier run wrote and this one no longer names is gone, and said so by name.
    expect(changed).toBe(
      `removed: RATE_LIMIT_READS\nsettings: ACME_EMAIL RATE_LIMIT_READS SITE_DOMAIN\nchanged: updated the settings ACME_EMAIL, RATE_LIMIT_READS, SITE_DOMAIN in ${dir}/.env; passwords kept\n`,
    );
    expect(readFileSync(`${dir}/.env`, 'utf8')).not.toContain('RATE_LIMIT_READS');
    expect(changed).not.toMatch(/www\.b\.test|me@b\.test|\(names\)/);
    expect(readFileSync(`${dir}/.env`, 'utf8')).toContain(`MYSQL_PASSWORD=${password}\n`);
  });
});
