// --help changes nothing: every command's help, run as a real process the way a person would,
// leaves the repo's files (ignored ones like .env included), the installed packages and the
// Docker engine's containers, images, networks and volumes as they were.
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isGroup } from '../../scripts/tool/commands/define.js';
import { COMMANDS } from '../../scripts/tool/commands/index.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

const exec = promisify(execFile);

/** Every file under the repo with its size and modification time; node_modules by its top folders. */
function files(dir = '', found: string[] = []): string[] {
  for (const entry of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    // .git changes under a running git (index refreshes); its state shows in `git status` below.
    // test/results is where the suite's other lanes write while this runs.
    if (file === '.git' || file === path.join('test', 'results')) continue;
    const stat = lstatSync(path.join(REPO_ROOT, file));
    found.push(`${file} ${stat.size} ${stat.mtimeMs}`);
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

/** Test resources (this repo's and others' tests, running meanwhile): not compared. */
const isTestResource = (labels: string) =>
  /(^|,)(org\.testcontainers=true|org\.webstack\.test-run=|com\.docker\.compose\.project=webstack-test-)/.test(labels);

/**
 * `docker KIND ls` as "id name" lines, test resources left out. A container's state counts for
 * the stack scripts/up runs (compose project webstack) only: others' containers start and stop meanwhile.
 */
async function dockerList(kind: string, fields: string): Promise<string | undefined> {
  const list = await output('docker', [
    kind,
    'ls',
    ...(kind === 'container' ? ['-a'] : []),
    '--format',
    `${fields}\t{{.Labels}}`,
  ]);
  return list
    ?.split('\n')
    .filter((line) => line && !isTestResource(line.split('\t')[1] ?? ''))
    .map((line) => {
      const [fields = '', labels = ''] = line.split('\t');
      return kind !== 'container' || /(^|,)com\.docker\.compose\.project=webstack(,|$)/.test(labels)
        ? fields
        : fields.replace(/ \S+$/, '');
    })
    .sort()
    .join('\n');
}

async function dockerState(): Promise<Record<string, string | undefined>> {
  if ((await output('docker', ['info', '--format', '{{.ID}}'])) === undefined) return { engine: 'none' };
  const [containers, networks, volumes, images] = await Promise.all([
    dockerList('container', '{{.ID}} {{.Names}} {{.State}}'),
    dockerList('network', '{{.ID}} {{.Name}}'),
    dockerList('volume', '{{.Name}}'),
    // What scripts/up would make: the local base images, and the stack's under its default tag
    // (tests and other branches build theirs under tags of their own).
    Promise.all(
      ['webstack-local/*', '*:latest', '*/*:latest'].map((reference) =>
        output('docker', [
          'image',
          'ls',
          '--filter',
          `reference=${reference}`,
          '--format',
          '{{.Repository}}:{{.Tag}} {{.ID}}',
        ]),
      ),
    ).then((lists) => lists.join('')),
  ]);
  return { containers, networks, volumes, images };
}

async function machineState() {
  return {
    git: await output('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--ignored', '--untracked-files=all']),
    files: files().sort().join('\n'),
    packages: await output('sh', ['-c', 'command -v dpkg-query >/dev/null && dpkg-query -W || true']),
    docker: await dockerState(),
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
      const { IMAGE_TAG: _tag, ...env } = process.env;
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
    },
  );
});
