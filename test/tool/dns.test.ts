// scripts/dns takes SITE_DOMAIN and the server's addresses from .env as the other commands do
// (under the process environment, which wins), not from the environment alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The repo's .env is a user's: the commands read this folder's instead.
const root = mkdtempSync(path.join(tmpdir(), 'webstack-dns-'));
vi.mock('../../scripts/tool/core/paths.js', () => ({ REPO_ROOT: `${root}/` }));
const { COMMANDS } = await import('../../scripts/tool/commands/index.js');
const { dispatch } = await import('../../scripts/tool/commands/dispatch.js');

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function records(args: string[]): Promise<{ status: number; out: string }> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((text: string) => void out.push(text));
  try {
    const status = await dispatch(COMMANDS, ['dns', 'records', ...args], {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    return { status, out: out.join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('scripts/dns records: settings from .env', () => {
  it(".env's SITE_DOMAIN and SERVER_IPV4; the environment wins over .env, a flag over both", async () => {
    vi.stubEnv('SITE_DOMAIN', undefined);
    vi.stubEnv('SERVER_IPV4', undefined);
    writeFileSync(path.join(root, '.env'), 'SITE_DOMAIN=www.example.test\nSERVER_IPV4=192.0.2.10\n');
    try {
      const fromFile = await records([]);
      expect(fromFile.status).toBe(0);
      expect(fromFile.out).toMatch(/^; www\.example\.test: the apex points at the server/);
      expect(fromFile.out).toContain('192.0.2.10');
      expect(fromFile.out).not.toContain('foobar');

      vi.stubEnv('SITE_DOMAIN', 'www.other.test');
      expect((await records([])).out).toMatch(/^; www\.other\.test:/);
      expect((await records(['--domain', 'www.flag.test', '--ipv4', '192.0.2.20'])).out).toMatch(
        /^; www\.flag\.test:[^]*192\.0\.2\.20/,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('without .env nor flags: the default domain, and a clear error without an address', async () => {
    vi.stubEnv('SITE_DOMAIN', undefined);
    vi.stubEnv('SERVER_IPV4', undefined);
    rmSync(path.join(root, '.env'), { force: true });
    try {
      const none = await records([]);
      expect(none.status).toBe(1);
      expect(none.out).toContain("give the server's public IPv4 address");
      expect((await records(['--ipv4', '192.0.2.30'])).out).toMatch(/^; www\.foobar\.com:/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
