// The deployment file: what it accepts, what it refuses (by key), how flags override it, and
// what setup says of a setting an earlier run wrote and this one drops.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acmeSettings, stackSettings } from '../../scripts/tool/cluster/settings.js';
import { appMigrations } from '../../scripts/tool/core/app.js';
import { appEnv, loadDeployFile, parseDeployFile } from '../../scripts/tool/core/deployfile.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { droppedSettings, setupSettings } from '../../scripts/tool/vps/settings.js';

const dir = mkdtempSync(path.join(tmpdir(), 'webstack-deployfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'deploy.yml');
const parse = (text: string) => parseDeployFile(text, file);
const problems = (text: string) => {
  try {
    parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the file was accepted');
};

describe('the deployment file', () => {
  it('reads the vps and cluster sections, paths against its own folder', () => {
    const deploy = parse(`
vps:
  host: root@203.0.113.7
  identity: keys/vps
  domain: www.example.com
  email: you@example.com
  acme-ca: ca.pem
  app: { dir: ../myapp, migrations: ../myapp/sql }
  settings:
    RATE_LIMIT_READS: 100r/s
    DB_POOL_SIZE: 20
cluster:
  manager: root@203.0.113.8
  replicas: 4
  app: { image: registry.example.com/me/app:1.2, migrations: sql }
`);
    expect(deploy.vps).toEqual({
      host: 'root@203.0.113.7',
      identity: path.join(dir, 'keys/vps'),
      domain: 'www.example.com',
      email: 'you@example.com',
      'acme-ca': path.join(dir, 'ca.pem'),
      app: { dir: path.resolve(dir, '../myapp'), migrations: path.resolve(dir, '../myapp/sql') },
      settings: { RATE_LIMIT_READS: '100r/s', DB_POOL_SIZE: '20' },
    });
    expect(deploy.cluster).toMatchObject({
      manager: 'root@203.0.113.8',
      replicas: 4,
      app: { image: 'registry.example.com/me/app:1.2', migrations: path.join(dir, 'sql') },
      settings: {},
    });
  });

  it('an empty file describes nothing', () => {
    expect(parse('')).toEqual({ file });
  });

  it('names every wrong key and what to do, all at once', () => {
    const message = problems(`
vps:
  domian: www.example.com
  settings:
    rate: 1
    STATUS_PASSWORD: hunter2
  app: { dir: app, image: me/app:1 }
cluster:
  replicas: 0
clusters: {}
`);
    expect(message).toContain(`${file} has problems, nothing was done:`);
    expect(message).toContain('vps.domian: not a key of vps (it has host, identity, domain,');
    expect(message).toContain('vps.settings.rate: not a setting name');
    expect(message).toContain('vps.settings.STATUS_PASSWORD: a secret has no place in a committed file');
    expect(message).toContain('vps.app: give dir (a folder to build) or image (a ready image), not both');
    expect(message).toContain("vps.app.migrations: give the folder of the image's SQL migrations");
    expect(message).toContain('cluster.replicas: give a whole number of at least 1, not 0');
    expect(message).toContain('the file.clusters: not a key of the file (it has vps, cluster)');
    expect(message).not.toContain('hunter2');
  });

  it("refuses a key's contents and the database passwords", () => {
    expect(problems('vps:\n  identity: "-----BEGIN OPENSSH PRIVATE KEY-----\\nabc"\n')).toContain(
      "vps.identity: holds a private key; name the key's file instead",
    );
    for (const name of ['MYSQL_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'API_TOKEN', 'APP_SECRET']) {
      expect(problems(`cluster:\n  settings:\n    ${name}: x\n`)).toContain(`cluster.settings.${name}: a secret`);
    }
  });

  it('says where YAML is broken', () => {
    expect(problems('vps: [unclosed')).toMatch(/deploy\.yml is not valid YAML/);
  });

  it("is the repo's .deploy.yml unless DEPLOY_FILE names one, which must exist", () => {
    writeFileSync(file, 'vps:\n  domain: www.example.com\n');
    expect(loadDeployFile({ DEPLOY_FILE: file })?.vps?.domain).toBe('www.example.com');
    expect(() => loadDeployFile({ DEPLOY_FILE: path.join(dir, 'missing.yml') })).toThrow(
      /missing\.yml: no such file; write it \(see examples\/deploy\.yml\) or unset DEPLOY_FILE/,
    );
  });

  it('the annotated example in the repo is a valid deployment file', () => {
    const example = `${REPO_ROOT}examples/deploy.yml`;
    const deploy = parseDeployFile(readFileSync(example, 'utf8'), example);
    expect(deploy.vps?.domain).toBeDefined();
    expect(deploy.cluster?.manager).toBeDefined();
  });
});

describe('scripts/vps setup: the file, then the flags', () => {
  const section = {
    domain: 'www.example.com',
    email: 'you@example.com',
    resolver: '192.0.2.53',
    settings: { RATE_LIMIT_READS: '100r/s', LOG_LEVEL: 'info' },
  };

  it('takes every setting from the file when no flag is given', () => {
    expect(setupSettings(section, {})).toEqual({
      domain: 'www.example.com',
      email: 'you@example.com',
      resolver: '192.0.2.53',
      extra: { RATE_LIMIT_READS: '100r/s', LOG_LEVEL: 'info' },
    });
  });

  it('a flag overrides its key for the run; --set overrides one setting and keeps the others', () => {
    const chosen = setupSettings(section, { domain: 'www.other.com', set: ['LOG_LEVEL=debug', 'DB_POOL_SIZE=5'] });
    expect(chosen.domain).toBe('www.other.com');
    expect(chosen.email).toBe('you@example.com');
    expect(chosen.extra).toEqual({ RATE_LIMIT_READS: '100r/s', LOG_LEVEL: 'debug', DB_POOL_SIZE: '5' });
  });

  it('without a file, the flags alone, as before', () => {
    expect(setupSettings(undefined, { domain: 'www.example.com', 'acme-directory': 'letsencrypt-staging' })).toEqual(
      expect.objectContaining({ domain: 'www.example.com', 'acme-directory': 'letsencrypt-staging', extra: {} }),
    );
  });

  it('asks for a domain and an email where neither names one', () => {
    expect(() => setupSettings(undefined, {})).toThrow(/give --domain www\.example\.com, or domain: in/);
    expect(() => setupSettings({ domain: 'www.example.com', settings: {} }, {})).toThrow(
      /give --email you@example\.com, or email: in/,
    );
    expect(() => setupSettings(section, { set: ['MYSQL_PASSWORD=x'] })).toThrow(/generated on the server/);
  });
});

describe('scripts/vps setup: a dropped setting', () => {
  it('says how to keep a dropped setting: under its own key, or under vps.settings', () => {
    expect(droppedSettings(['LOG_LEVEL'], 'deploy/prod.yml')).toBe(
      'removed: LOG_LEVEL (set by an earlier setup, now in neither deploy/prod.yml nor the flags); to keep it, add vps.settings.LOG_LEVEL to deploy/prod.yml',
    );
    expect(droppedSettings(['ACME_DIRECTORY', 'DB_POOL_SIZE'])).toBe(
      'removed: ACME_DIRECTORY, DB_POOL_SIZE (set by an earlier setup, now in neither the deployment file (.deploy.yml) nor the flags); to keep them, add vps.acme-directory, vps.settings.DB_POOL_SIZE to the deployment file (.deploy.yml)',
    );
  });
});

describe('the app a deployment runs', () => {
  it("is the file's, as APP_DIR / APP_IMAGE / APP_MIGRATIONS", () => {
    expect(appEnv({ dir: '/src/myapp' }, { IMAGE_TAG: 'x' })).toEqual({ IMAGE_TAG: 'x', APP_DIR: '/src/myapp' });
    expect(appEnv({ image: 'me/app:1', migrations: '/src/sql' }, {})).toEqual({
      APP_IMAGE: 'me/app:1',
      APP_MIGRATIONS: '/src/sql',
    });
    expect(appEnv(undefined, { APP_DIR: '/a' })).toEqual({ APP_DIR: '/a' });
  });

  it('unless the environment names the app itself', () => {
    expect(appEnv({ image: 'me/app:1', migrations: '/src/sql' }, { APP_DIR: '/mine' })).toEqual({ APP_DIR: '/mine' });
  });
});

describe("the app's migrations, as scripts/vps ships them", () => {
  it("are APP_MIGRATIONS, else APP_DIR's migrations/, else the sample's", () => {
    expect(appMigrations({}, REPO_ROOT)).toBe(`${REPO_ROOT}app/migrations`);
    expect(appMigrations({ APP_DIR: 'examples/gunicorn' }, REPO_ROOT)).toBe(`${REPO_ROOT}examples/gunicorn/migrations`);
    expect(appMigrations({ APP_IMAGE: 'me/app:1', APP_MIGRATIONS: dir }, REPO_ROOT)).toBe(dir);
  });

  it('a ready image must name its folder, and the folder must exist', () => {
    expect(() => appMigrations({ APP_IMAGE: 'me/app:1' }, REPO_ROOT)).toThrow(
      /APP_IMAGE=me\/app:1: set APP_MIGRATIONS \(or app\.migrations in the deployment file\)/,
    );
    expect(() => appMigrations({ APP_MIGRATIONS: 'no/such/folder' }, REPO_ROOT)).toThrow(
      /no\/such\/folder does not exist: create it/,
    );
  });

  it("the server's copy is the shipped folder: a file the app no longer has is removed", () => {
    // server/release.sh runs as it would on the server, on a folder here.
    const stackDir = path.join(dir, 'release');
    const release = (files: Record<string, string>) => {
      const source = mkdtempSync(path.join(dir, 'src-'));
      mkdirSync(path.join(source, 'app/migrations'), { recursive: true });
      writeFileSync(path.join(source, 'docker-compose.yml'), 'services: {}\n');
      for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(source, 'app/migrations', name), sql);
      const tar = execFileSync('tar', ['-c', '-C', source, '.']);
      return execFileSync('bash', [`${REPO_ROOT}scripts/tool/vps/server/release.sh`, stackDir, 'app/migrations'], {
        input: tar,
        encoding: 'utf8',
      });
    };
    const first = release({ '001_sample.sql': 'SELECT 1;' });
    expect(first.trim().split(' ').sort()).toEqual(
      ['changed:', 'release', 'files', 'docker-compose.yml', 'app/migrations/001_sample.sql'].sort(),
    );
    expect(release({ '001_sample.sql': 'SELECT 1;' })).toBe('ok: release files up to date\n');
    expect(release({ '001_mine.sql': 'SELECT 2;' })).toBe(
      'changed: removed release files app/migrations/001_sample.sql\nchanged: release files app/migrations/001_mine.sql\n',
    );
    expect(readdirSync(path.join(stackDir, 'app/migrations'))).toEqual(['001_mine.sql']);
    expect(readdirSync(stackDir).sort()).toEqual(['app', 'docker-compose.yml']);
  });
});

describe('scripts/cluster deploy: the settings stack.yml takes', () => {
  it("are the file's, each overridden by the environment's", () => {
    expect(
      stackSettings({ RATE_LIMIT_READS: '100r/s', LOG_LEVEL: 'info' }, { LOG_LEVEL: 'debug', PATH: '/bin' }),
    ).toEqual({ RATE_LIMIT_READS: '100r/s', LOG_LEVEL: 'debug' });
    expect(stackSettings({}, { DB_POOL_SIZE: '20' })).toEqual({ DB_POOL_SIZE: '20' });
  });

  it('a file setting that does not apply on the cluster is refused by name, not dropped', () => {
    expect(() => stackSettings({ ACME_EMAIL: 'x@example.com', LOG_LEVEL: 'info' }, {}, 'deploy.yml')).toThrow(
      /deploy\.yml: cluster\.settings ACME_EMAIL do not apply on the cluster \(stack\.yml takes RATE_LIMIT_WRITES,.*\); remove them/,
    );
  });
});

describe("scripts/cluster deploy and renew: the ACME issuer's settings", () => {
  it('are off without ACME_DIRECTORY or ACME_EMAIL: the local CA serves', () => {
    expect(acmeSettings({ HSTS_MAX_AGE: '600', PATH: '/bin' }, 'www.foobar.com')).toBeUndefined();
  });

  it('are those set, with the site, and nothing else of the environment', () => {
    expect(acmeSettings({ ACME_EMAIL: 'ops@foobar.com', HSTS_MAX_AGE: '600', PATH: '/bin' }, 'www.foobar.com')).toEqual(
      { ACME_EMAIL: 'ops@foobar.com', HSTS_MAX_AGE: '600', SITE_DOMAIN: 'www.foobar.com' },
    );
  });

  it('refuse a bad value as the certs service would, before the cluster changes', () => {
    expect(() => acmeSettings({ ACME_DIRECTORY: 'http://ca.example/dir' }, 'www.foobar.com')).toThrow(/ACME_DIRECTORY/);
    expect(() => acmeSettings({ ACME_EMAIL: 'ops@foobar.com' }, 'foobar.com')).toThrow(/SITE_DOMAIN must be/);
  });
});
