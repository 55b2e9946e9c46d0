import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/src/config.js';
import { composeDefault, composeService } from '../../scripts/tool/core/compose.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

const NGINX = `${REPO_ROOT}nginx/`;
// Every file of nginx's configuration the image ships: where a directive could be set.
const nginxFiles = [
  'nginx.conf',
  ...['conf.d', 'snippets', 'settings', 'site'].flatMap((dir) =>
    readdirSync(`${NGINX}${dir}`)
      .filter((name) => /\.conf(\.template)?$/.test(name))
      .map((name) => `${dir}/${name}`),
  ),
];
const withoutComments = (file: string) => readFileSync(`${NGINX}${file}`, 'utf8').replace(/#.*$/gm, '');

/** The values one directive is set to in a piece of nginx configuration. */
function directive(name: string, text: string): string[] {
  return [...text.matchAll(new RegExp(`(?:^|[\\s;{}])${name}\\s+([^;\\s]+)\\s*;`, 'g'))].map((m) => m[1]!);
}

// nginx's units (ngx_parse_size, ngx_parse_time): a bare number is bytes, or seconds.
function bytes(size: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(size);
  if (!match) throw new Error(`not an nginx size: ${size}`);
  return (
    Number(match[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  );
}
function milliseconds(time: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(time);
  if (!match) throw new Error(`not an nginx time: ${time}`);
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 's'];
}

/** What the app container runs with: the config's defaults under what docker-compose.yml sets. */
function appConfig() {
  const environment = composeService('app').environment ?? {};
  const set = (name: string): Record<string, string> => {
    const entry = Array.isArray(environment)
      ? environment.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1)
      : environment[name];
    if (entry === undefined) return {};
    return { [name]: entry.startsWith('${') ? composeDefault('app', name) : entry };
  };
  return loadConfig({
    DB_USER: 'u',
    DB_PASSWORD: 'p',
    DB_NAME: 'webstack',
    ...set('BODY_LIMIT_BYTES'),
    ...set('KEEP_ALIVE_TIMEOUT_MS'),
  });
}

describe('nginx and the app agree on their limits (the real config files)', () => {
  it('the app accepts every body nginx lets through, so nginx is the one answering 413', () => {
    const sizes = nginxFiles.flatMap((file) => directive('client_max_body_size', withoutComments(file)));
    expect(sizes.length, 'client_max_body_size is set in nginx').toBeGreaterThan(0);
    const largestNginxPasses = Math.max(...sizes.map(bytes));
    expect(appConfig().BODY_LIMIT_BYTES).toBeGreaterThanOrEqual(largestNginxPasses);
  });

  it('nginx closes an idle upstream connection before the app does', () => {
    const upstreams = [...withoutComments('conf.d/upstream.conf').matchAll(/\bupstream\s+\S+\s*\{([^}]*)\}/g)];
    expect(upstreams.length, 'upstream blocks in conf.d/upstream.conf').toBeGreaterThan(0);
    for (const [, block] of upstreams) {
      // Set explicitly: nginx's silent default (60 s) would hide a change on the app's side.
      const [timeout, ...more] = directive('keepalive_timeout', block!);
      expect(timeout, 'the upstream sets keepalive_timeout').toBeDefined();
      expect(more).toEqual([]);
      expect(milliseconds(timeout!)).toBeLessThan(appConfig().KEEP_ALIVE_TIMEOUT_MS);
    }
  });
});
