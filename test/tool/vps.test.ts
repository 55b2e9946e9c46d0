import { describe, expect, it } from 'vitest';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { parseFacts, setupProblems } from '../../scripts/tool/vps/facts.js';
import { outcomes } from '../../scripts/tool/vps/server.js';
import { envLine, envSettings, parseSets } from '../../scripts/tool/vps/settings.js';

const facts = (overrides: Record<string, string> = {}) =>
  parseFacts(
    Object.entries({
      os_id: 'debian',
      os_version: '13',
      os_name: 'Debian GNU/Linux 13 (trixie)',
      arch: 'x86_64',
      user: 'root',
      root: 'yes',
      systemd: 'yes',
      apt: 'yes',
      disk_free_mb: '20000',
      memory_mb: '2048',
      ssh_address: '203.0.113.7',
      ssh_port: '22',
      ...overrides,
    })
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );

describe('scripts/vps: what setup accepts', () => {
  it('reads the facts a server reports', () => {
    expect(facts()).toMatchObject({ osId: 'debian', osVersion: '13', root: true, diskFreeMb: 20000, sshPort: 22 });
  });

  it('accepts Debian 12 and 13, Ubuntu 22.04 and 24.04 on the architecture built here', () => {
    for (const [id, version] of [
      ['debian', '12'],
      ['debian', '13'],
      ['ubuntu', '22.04'],
      ['ubuntu', '24.04'],
    ]) {
      expect(setupProblems(facts({ os_id: id!, os_version: version! }), 'amd64')).toEqual([]);
    }
  });

  it('refuses, each time saying what to do: old or other systems, no sudo, another architecture, a full disk', () => {
    expect(setupProblems(facts({ os_version: '11', os_name: 'Debian GNU/Linux 11 (bullseye)' }), 'amd64')).toEqual([
      'the server runs Debian GNU/Linux 11 (bullseye), which setup does not handle: use a fresh Debian 12 or 13 or Ubuntu 22.04 or 24.04 server',
    ]);
    expect(setupProblems(facts({ os_id: 'centos', os_version: '9', apt: 'no' }), 'amd64')).toHaveLength(2);
    expect(setupProblems(facts({ user: 'deploy', root: 'no' }), 'amd64')[0]).toMatch(/allow deploy passwordless sudo/);
    expect(setupProblems(facts({ arch: 'aarch64' }), 'amd64')[0]).toMatch(
      /server is arm64 but this machine builds amd64/,
    );
    expect(setupProblems(facts({ disk_free_mb: '900' }), 'amd64')[0]).toMatch(
      /900 MB free on \/, setup needs at least/,
    );
    expect(setupProblems(facts({ systemd: 'no' }), 'amd64')[0]).toMatch(/no systemctl/);
  });
});

describe("scripts/vps: the server's .env settings", () => {
  it('writes plain values as they are and a PEM double-quoted on one line', () => {
    expect(envLine('SITE_DOMAIN', 'www.example.com')).toBe('SITE_DOMAIN=www.example.com');
    expect(envLine('ACME_DIRECTORY_CA', '-----BEGIN CERTIFICATE-----\nAB+/=\n-----END CERTIFICATE-----')).toBe(
      'ACME_DIRECTORY_CA="-----BEGIN CERTIFICATE-----\\nAB+/=\\n-----END CERTIFICATE-----"',
    );
    expect(() => envLine('X', 'a$b')).toThrow(/quotes, backslashes and \$/);
    expect(() => envLine('lower', 'x')).toThrow(/not a setting name/);
  });

  it('takes --set KEY=VALUE but never the passwords', () => {
    expect(parseSets(['RATE_LIMIT_READS=100r/s', 'A='])).toEqual({ RATE_LIMIT_READS: '100r/s', A: '' });
    expect(() => parseSets(['MYSQL_PASSWORD=x'])).toThrow(/generated on the server and stay there/);
    expect(() => parseSets(['novalue'])).toThrow(/give KEY=VALUE/);
  });

  it('is the same text for the same settings (so a second setup finds nothing to change)', () => {
    const images = imagesOf({ IMAGE_TAG: 'v1' });
    const settings = {
      domain: 'www.example.com',
      email: 'me@example.com',
      serverIpv4: '203.0.113.7',
      extra: { B: '2', A: '1' },
    };
    const text = envSettings(settings, images);
    expect(envSettings({ ...settings, extra: { A: '1', B: '2' } }, images)).toBe(text);
    expect(text).toContain('COMPOSE_FILE=docker-compose.yml:scripts/tool/vps/host-network.compose.yml');
    expect(text).toContain('IMAGE_TAG=v1\n');
    expect(text).not.toContain('ACME_DIRECTORY=');
    expect(text).not.toMatch(/PASSWORD/);
    expect(text.endsWith('A=1\nB=2')).toBe(true);
  });

  it("counts a server script's changes", () => {
    expect(outcomes('ok: a\nchanged: b\nprogress: c\nchanged: d\nremoved: E F\n')).toEqual({
      ok: ['a'],
      changed: ['b', 'd'],
      removed: ['E', 'F'],
    });
  });
});
