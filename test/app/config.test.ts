import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/src/config.js';

const valid = { DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'webstack' };

describe('configuration from the environment', () => {
  it('applies the design defaults: 127.0.0.1:5000 and a database on 127.0.0.1:3306', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({ HOST: '127.0.0.1', PORT: 5000, DB_HOST: '127.0.0.1', DB_PORT: 3306 });
  });

  it.each([
    [{ ...valid, PORT: 'eighty' }, 'PORT'],
    [{ ...valid, PORT: '70000' }, 'PORT'],
    [{ ...valid, DB_POOL_SIZE: '0' }, 'DB_POOL_SIZE'],
    [{ ...valid, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ...valid, DB_NAME: 'bad name;' }, 'DB_NAME'],
    [{ DB_USER: 'u', DB_NAME: 'w' }, 'DB_PASSWORD'],
    [{ ...valid, APP_RELEASE: 'r1 <b>' }, 'APP_RELEASE'],
  ])('names the wrong variable: %o → %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(variable));
  });

  it('reads DB_PASSWORD from DB_PASSWORD_FILE (a Docker secret), refusing both or an unreadable file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'config-test-'));
    try {
      const file = path.join(dir, 'db_password');
      writeFileSync(file, 's3cret with spaces\n');
      const { DB_PASSWORD: _, ...withoutPassword } = valid;
      expect(loadConfig({ ...withoutPassword, DB_PASSWORD_FILE: file }).DB_PASSWORD).toBe('s3cret with spaces');
      expect(() => loadConfig({ ...valid, DB_PASSWORD_FILE: file })).toThrow(/DB_PASSWORD or DB_PASSWORD_FILE/);
      expect(() => loadConfig({ ...withoutPassword, DB_PASSWORD_FILE: path.join(dir, 'missing') })).toThrow(
        /DB_PASSWORD_FILE: cannot read .*ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
