// --help changes nothing: every command's help, run as a real process the way a person would,
// leaves the repo's files (ignored ones like .env included) and the installed packages as they
// were, and never reaches the Docker engine or a package or service manager.
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isGroup } from '../../scripts/tool/commands/define.js';
import { COMMANDS } from '../../scripts/tool/commands/index.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

const exec = promisify(execFile);

// What the suite's other lanes write while this runs: their results, the consumer project's
// install, the fixture's package build (dist/), backups, and vitest's own cache of test
// durations (written as each test file ends). Help writes none of them either.
const WRITTEN_BY_OTHER_TESTS = [
  'test',
  'dist',
  path.join('db', 'backups'),
  path.join('node_modules', '.vitest-cache'),
  path.join('node_modules', '.vite'),
];
const writtenByOtherTests = (file: string) =>
  WRITTEN_BY_OTHER_TESTS.some((dir) => file === dir || file.startsWith(`${dir}${path.sep}`));

/** Every file under the repo with its size and modification time; node_modules's files show in git status. */
function files(dir = '', found: string[] = []): string[] {
  for (const entry of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    // .git changes under a running git (index refreshes); its state shows in `git status` below.
    if (file === '.git' || writtenByOtherTests(file)) continue;
    const stat = lstatSync(path.join(REPO_ROOT, file));
    // A folder's own time moves with any entry written in it; its entries speak for themselves.
    found.push(entry.isDirectory() ? file : `${file} ${stat.size} ${stat.mtimeMs}`);
    if (entry.isDirectory() && !entry.isSymbolicLink() && entry.name !== 'node_modules') files(file, found);
  }
  return found;
}

async function output(command: string, args: string[]): Promise<string | undefined> {
  try {
    return (await exec(command, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    return undefined;
  }
}

async function machineState() {
  // -z: paths as they are, never quoted (a name with a space would be).
  const git = await output('git', [
    '-C',
    REPO_ROOT,
    'status',
    '--porcelain',
    '-z',
    '--ignored',
    '--untracked-files=all',
  ]);
  return {
    git: git
      ?.split('\0')
      .filter((entry) => !writtenByOtherTests(entry.slice(3)))
      .join('\n'),
    files: files().sort().join('\n'),
    packages: await output('sh', ['-c', 'command -v dpkg-query >/dev/null && dpkg-query -W || true']),
  };
}

/**
 * Where help could change the machine without writing a file: the Docker engine (the CLI and
 * dockerode alike reach it through DOCKER_HOST) and the package and service managers. Help
 * runs with DOCKER_HOST on a socket that records every connection and with these commands
 * replaced by ones that record their call, so that any attempt fails the test, whatever the
 * suite's other lanes do to the real engine meanwhile.
 */
const MACHINE_CHANGERS = ['apt-get', 'apt', 'dpkg', 'dockerd', 'debootstrap', 'systemctl', 'service', 'docker'];

async function recordingMachine(dir: string) {
  const calls: string[] = [];
  const socket = path.join(dir, 'docker.sock');
  const server = createServer((connection) => {
    calls.push('a connection to the Docker engine');
    connection.destroy();
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const log = path.join(dir, 'calls');
  for (const name of MACHINE_CHANGERS) {
    writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >>'${log}'\nexit 1\n`, { mode: 0o755 });
  }
  return {
    env: { DOCKER_HOST: `unix://${socket}`, PATH: `${bin}:${process.env.PATH ?? ''}` },
    calls: () => [...calls, ...(existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [])],
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const helps: string[][] = [
  ['tool/command'],
  ['tool/command', '--version'],
  ...COMMANDS.flatMap((entry) =>
    isGroup(entry)
      ? [[entry.name, '--help'], ...entry.subcommands.map((sub) => [entry.name, sub.name, '--help'])]
      : [[entry.name, '--help']],
  ).filter(([name]) => name !== 'reliability-report'),
  ['up', '--help'],
  ['up', '-h'],
  ['up', '--version'],
  ['test', '--help'],
  ['test', 'help'],
  ['test', '--version'],
];

describe('help changes nothing', () => {
  it(
    'every scripts/... --help, the overview, --version, and up/test with a wrong argument',
    { timeout: 600_000 },
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'webstack-help-'));
      const machine = await recordingMachine(dir);
      const { IMAGE_TAG: _tag, ...inherited } = process.env;
      const env = { ...inherited, ...machine.env };
      const before = await machineState();
      const results: string[] = [];
      for (const [name, ...args] of helps) {
        const { stdout } = await exec(path.join(REPO_ROOT, 'scripts', name!), args, { env });
        expect(stdout, `scripts/${name} ${args.join(' ')}`).toMatch(/^(scripts\/|webstack(?:'s)? )/);
        results.push(`scripts/${name} ${args.join(' ')}`);
      }
      for (const name of ['up', 'test']) {
        const wrong = await exec(path.join(REPO_ROOT, 'scripts', name), ['--no-such-option'], { env }).catch(
          (err: { code: number; stderr: string }) => err,
        );
        expect((wrong as { code: number }).code, name).toBe(2);
        expect((wrong as { stderr: string }).stderr).toContain(`usage: scripts/${name}`);
      }
      expect(results.length).toBe(helps.length);
      expect(await machineState()).toEqual(before);
      expect(machine.calls()).toEqual([]);
      await machine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
