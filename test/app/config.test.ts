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
  ])('names the wrong variable: %o → %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(variable));
  });
});
