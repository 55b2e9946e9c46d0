import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

const run = promisify(execFile);

async function writeEnvFile(file: string): Promise<void> {
  await run('bash', ['-c', `source scripts/lib/env-file.sh && ensure_env_file "$1"`, 'bash', file], {
    cwd: REPO_ROOT,
    env: { ...process.env, MYSQL_IMAGE: 'db:1', NGINX_IMAGE: 'web:1', NODE_IMAGE: 'node:1', DEBIAN_IMAGE: 'debian:1' },
  });
}

const value = (text: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1];

describe('secrets in the repository', () => {
  it('commits no .env and no password but the placeholders of .env.example', async () => {
    const { stdout } = await run('git', ['ls-files'], { cwd: REPO_ROOT });
    const files = stdout.split('\n').filter(Boolean);
    expect(files).not.toContain('.env');
    const { stdout: hits } = await run(
      'git',
      [
        'grep',
        '-n',
        '-I',
        '-E',
        '(PASSWORD|SECRET|TOKEN)[A-Z_]*=[A-Za-z0-9+/_-]{8,}',
        '--',
        '.',
        ':(exclude)test/scripts/env-file.test.ts',
      ],
      { cwd: REPO_ROOT },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const values = hits
      .split('\n')
      .filter(Boolean)
      .filter((line) => !/^\.env\.example:\d+:MYSQL_(ROOT_)?PASSWORD=change-me(-too)?$/.test(line))
      // A secret file's path (DB_PASSWORD_FILE=/run/secrets/..., BACKUP_PASSWORD_FILE=/here/...)
      // names where a secret is, not one.
      .filter((line) => !/_FILE=\//.test(line));
    expect(values).toEqual([]);
  });
});

describe('.env written by scripts/up', () => {
  it('is private (mode 600) with random passwords, and is never overwritten', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envfile-'));
    const first = join(dir, 'first.env');
    const second = join(dir, 'second.env');
    await writeEnvFile(first);
    await writeEnvFile(second);

    expect((await stat(first)).mode & 0o777).toBe(0o600);
    const a = await readFile(first, 'utf8');
    const b = await readFile(second, 'utf8');
    for (const name of ['MYSQL_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'STATUS_PASSWORD']) {
      expect(value(a, name)).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(value(a, name)).not.toBe(value(b, name));
    }
    expect(value(a, 'MYSQL_PASSWORD')).not.toBe(value(a, 'MYSQL_ROOT_PASSWORD'));
    expect(value(a, 'MYSQL_IMAGE')).toBe('db:1');
    expect(value(a, 'DEBIAN_IMAGE')).toBe('debian:1');

    await writeEnvFile(first);
    expect(await readFile(first, 'utf8')).toBe(a);
  });

  it('adds STATUS_PASSWORD once to a .env written before the status page existed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envfile-'));
    const file = join(dir, 'old.env');
    await writeFile(file, 'MYSQL_PASSWORD=kept\n', { mode: 0o600 });
    await writeEnvFile(file);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('MYSQL_PASSWORD=kept\n')).toBe(true);
    expect(value(text, 'STATUS_PASSWORD')).toMatch(/^[A-Za-z0-9]{32}$/);
    await writeEnvFile(file);
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('.env.example documents every variable docker-compose.yml reads, and .env is git-ignored', async () => {
    const composeText = await readFile(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    const example = await readFile(join(REPO_ROOT, '.env.example'), 'utf8');
    const used = new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
    const documented = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    const missing = [...used].filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
    expect(await readFile(join(REPO_ROOT, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });
});

describe('the app choice (APP_DIR or APP_IMAGE) in scripts/up', () => {
  // scripts/up and its libraries in a folder of their own, with a docker that only records
  // its calls: a choice that is refused must be refused before anything runs.
  async function up(env: NodeJS.ProcessEnv, dotEnv = '') {
    const root = await mkdtemp(join(tmpdir(), 'app-choice-'));
    await cp(join(REPO_ROOT, 'scripts/up'), join(root, 'scripts/up'));
    await cp(join(REPO_ROOT, 'scripts/lib'), join(root, 'scripts/lib'), { recursive: true });
    await cp(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'no-dockerfile'));
    await mkdir(join(root, 'my-app/migrations'), { recursive: true });
    await writeFile(join(root, 'my-app/Dockerfile'), 'FROM scratch\n');
    await mkdir(join(root, 'no-migrations'));
    await writeFile(join(root, 'no-migrations/Dockerfile'), 'FROM scratch\n');
    if (dotEnv) await writeFile(join(root, '.env'), dotEnv, { mode: 0o600 });
    const calls = join(root, 'docker-calls');
    await writeFile(join(root, 'bin/docker'), `#!/bin/sh\necho "$*" >>'${calls}'\nexit 1\n`, { mode: 0o755 });
    const result = await run('bash', [join(root, 'scripts/up')], {
      cwd: root,
      env: { PATH: `${join(root, 'bin')}:${process.env.PATH}`, HOME: root, ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    const dockerCalls = await readFile(calls, 'utf8').catch(() => '');
    const envText = await readFile(join(root, '.env'), 'utf8').catch(() => '');
    return { ...result, dockerCalls, envText };
  }

  it.each([
    {
      name: 'both set',
      env: { APP_DIR: 'my-app', APP_IMAGE: 'example/app:1' },
      message: 'APP_DIR (my-app) and APP_IMAGE (example/app:1) are both set',
    },
    {
      name: 'one in .env, the other in the environment',
      env: { APP_IMAGE: 'example/app:1' },
      dotEnv: 'APP_DIR=my-app\n',
      message: 'are both set',
    },
    {
      name: 'a folder without a Dockerfile',
      env: { APP_DIR: 'no-dockerfile' },
      message: 'APP_DIR=no-dockerfile: no Dockerfile',
    },
    { name: 'a folder that does not exist', env: { APP_DIR: 'nowhere' }, message: 'APP_DIR=nowhere: no Dockerfile' },
    { name: 'an image name Docker would refuse', env: { APP_IMAGE: 'Example/App:1' }, message: 'is not an image name' },
    {
      name: 'a folder without its migrations folder',
      env: { APP_DIR: 'no-migrations' },
      message: 'no-migrations/migrations: no such folder',
    },
    {
      name: 'paths nginx does not know',
      env: { APP_DIR: 'my-app', APP_PATHS: 'everything' },
      message: 'APP_PATHS=everything: use api',
    },
    {
      name: 'a ready image without APP_MIGRATIONS',
      env: { APP_IMAGE: 'example/app:1' },
      message: 'APP_IMAGE is set but APP_MIGRATIONS is not',
    },
  ])('refuses $name with a message saying what to do, before anything runs', async ({ env, dotEnv, message }) => {
    const result = await up(env, dotEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.dockerCalls).toBe('');
    expect(result.envText).toBe(dotEnv ?? '');
  });

  it('records a valid choice in .env (its paths too), with the compose file a ready image needs, and drops it again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'app-choice-'));
    const file = join(root, 'choice.env');
    await writeFile(file, 'MYSQL_PASSWORD=kept\n', { mode: 0o600 });
    const record = (env: Record<string, string>) =>
      run(
        'bash',
        ['-c', 'source scripts/lib/env-file.sh && check_app_choice "$1" && record_app_choice "$1"', 'bash', file],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH, ...env },
        },
      );

    await record({
      APP_IMAGE: 'registry.example.com:5000/team/app:1.2',
      APP_MIGRATIONS: 'test/consumer/hello-app/migrations',
      APP_PATHS: 'all',
    });
    let text = await readFile(file, 'utf8');
    expect(value(text, 'APP_IMAGE')).toBe('registry.example.com:5000/team/app:1.2');
    expect(value(text, 'APP_MIGRATIONS')).toBe('test/consumer/hello-app/migrations');
    expect(value(text, 'APP_PATHS')).toBe('all');
    expect(value(text, 'COMPOSE_FILE')).toBe('docker-compose.yml:docker-compose.app-image.yml');
    expect(value(text, 'MYSQL_PASSWORD')).toBe('kept');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    // Kept from .env on the next run; then the environment moves it back to a folder.
    await record({});
    expect(await readFile(file, 'utf8')).toBe(text);
    await record({ APP_IMAGE: '', APP_DIR: 'test/consumer/hello-app' });
    text = await readFile(file, 'utf8');
    expect(value(text, 'APP_DIR')).toBe('test/consumer/hello-app');
    expect(value(text, 'APP_IMAGE')).toBe('');
    expect(value(text, 'COMPOSE_FILE')).toBe('docker-compose.yml');
  });
});
