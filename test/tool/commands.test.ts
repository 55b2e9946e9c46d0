// The command registry: every command and subcommand explains itself the same way, help and a
// wrong command line get their exit statuses, and the docs name only commands that exist.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../scripts/tool/commands/index.js';
import { isGroup, type Command, type Group } from '../../scripts/tool/commands/define.js';
import { dispatch, type Output } from '../../scripts/tool/commands/dispatch.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

async function run(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const lines = { out: [] as string[], err: [] as string[] };
  const io: Output = { out: (text) => lines.out.push(text), err: (text) => lines.err.push(text) };
  const status = await dispatch(COMMANDS, argv, io);
  return { status, out: lines.out.join('\n'), err: lines.err.join('\n') };
}

/** A line of a listing: the name, then its summary. */
const listed = (name: string, summary: string) =>
  new RegExp(`^  ${name} +${summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm');

const groups = COMMANDS.filter(isGroup);
const leaves = COMMANDS.filter((e): e is Command => !isGroup(e));
/** Every runnable command: [its words, its definition]. */
const runnable: [string[], Command][] = [
  ...leaves.map((c): [string[], Command] => [[c.name], c]),
  ...groups.flatMap((g: Group) => g.subcommands.map((c): [string[], Command] => [[g.name, c.name], c])),
];

describe('the registry: every command and subcommand has a summary, a usage and help', () => {
  it('names are unique, summaries one line, options documented; -h stays help', () => {
    expect(new Set(COMMANDS.map((e) => e.name)).size).toBe(COMMANDS.length);
    for (const g of groups) expect(new Set(g.subcommands.map((c) => c.name)).size, g.name).toBe(g.subcommands.length);
    for (const entry of [...COMMANDS, ...groups.flatMap((g) => g.subcommands)]) {
      expect(entry.summary, entry.name).toMatch(/^\S[^\n]{9,}$/);
    }
    for (const [words, command] of runnable) {
      for (const [name, spec] of Object.entries(command.options)) {
        expect(spec.help, `${words.join(' ')} --${name}`).not.toBe('');
        expect(spec.short, `${words.join(' ')} --${name}`).not.toBe('h');
        expect(name).not.toMatch(/^(help|version)$/);
      }
    }
  });

  it.each(runnable.map(([words, command]) => [words.join(' '), words, command] as const))(
    'scripts/%s: --help, -h and help print its summary, usage and every option, exit 0',
    async (_name, words, command) => {
      const helps = [
        await run([...words, '--help']),
        await run([...words, '-h']),
        await run([words[0]!, 'help', ...words.slice(1)]),
      ];
      for (const help of helps) {
        expect(help.status).toBe(0);
        expect(help.err).toBe('');
        expect(help.out).toBe(helps[0]!.out);
      }
      const text = helps[0]!.out;
      const runAs = command.runAs ?? `scripts/${words.join(' ')}`;
      expect(text.split('\n')[0]).toBe(`${runAs}: ${command.summary}`);
      expect(text).toContain(`usage: ${runAs}`);
      for (const name of Object.keys(command.options)) expect(text).toContain(`--${name}`);
      expect(text).toContain('-h, --help');
    },
  );

  it.each(groups.map((g) => [g.name, g] as const))(
    'scripts/%s: --help, -h and help list every subcommand, exit 0',
    async (name, group) => {
      for (const asked of ['--help', '-h', 'help']) {
        const help = await run([name, asked]);
        expect(help.status).toBe(0);
        expect(help.out.split('\n')[0]).toBe(`scripts/${name}: ${group.summary}`);
        for (const sub of group.subcommands) expect(help.out).toMatch(listed(sub.name, sub.summary));
      }
    },
  );

  it('a bare scripts/tool/command prints the overview of every command, exit 0', async () => {
    for (const argv of [['command'], ['command', '--help'], ['command', 'help']]) {
      const overview = await run(argv);
      expect(overview.status).toBe(0);
      for (const entry of COMMANDS) expect(overview.out).toMatch(listed(entry.name, entry.summary));
    }
    expect((await run(['command', 'help', 'deploy'])).out).toBe((await run(['deploy', '--help'])).out);
  });
});

describe('a wrong command line exits 2 with what was wrong and the usage', () => {
  it('an unknown command', async () => {
    for (const argv of [['nope'], ['command', 'nope']]) {
      const wrong = await run(argv);
      expect(wrong.status).toBe(2);
      expect(wrong.out).toBe('');
      expect(wrong.err).toContain('unknown command "nope"');
      expect(wrong.err).toContain('commands:');
    }
  });

  it.each(groups.map((g) => [g.name] as const))('scripts/%s: an unknown or missing subcommand', async (name) => {
    const unknown = await run([name, 'nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.err).toContain(`unknown subcommand "nope" of scripts/${name}`);
    expect(unknown.err).toContain(`usage: scripts/${name} SUBCOMMAND`);
    const missing = await run([name]);
    expect(missing.status).toBe(2);
    expect(missing.err).toContain(`usage: scripts/${name} SUBCOMMAND`);
    expect((await run([name, 'help', 'nope'])).status).toBe(2);
  });

  it.each(runnable.map(([words, command]) => [words.join(' '), words, command] as const))(
    'scripts/%s: an unknown option',
    async (_name, words, command) => {
      const wrong = await run([...words, '--no-such-option']);
      expect(wrong.status).toBe(2);
      expect(wrong.out).toBe('');
      expect(wrong.err).toContain("Unknown option '--no-such-option'");
      expect(wrong.err).toContain(`usage: ${command.runAs ?? `scripts/${words.join(' ')}`}`);
    },
  );

  it('a positional argument where none is taken, a missing required option, a missing argument', async () => {
    const extra = await run(['deploy', 'extra']);
    expect(extra.status).toBe(2);
    expect(extra.err).toContain("Unexpected argument 'extra'");
    const required = await run(['cluster', 'update']);
    expect(required.status).toBe(2);
    expect(required.err).toContain('missing --image');
    // The manager: a flag, or the deployment file's (here one without a cluster section).
    const empty = path.join(mkdtempSync(path.join(tmpdir(), 'webstack-commands-')), 'deploy.yml');
    writeFileSync(empty, 'vps:\n  domain: www.example.com\n');
    vi.stubEnv('DEPLOY_FILE', empty);
    try {
      const noManager = await run(['cluster', 'status']);
      expect(noManager.status).toBe(2);
      expect(noManager.err).toContain("give --manager USER@HOST, or manager: in the deployment file's cluster section");
    } finally {
      vi.unstubAllEnvs();
      rmSync(path.dirname(empty), { recursive: true });
    }
    const noFile = await run(['restore']);
    expect(noFile.status).toBe(2);
    expect(noFile.err).toContain('give exactly one backup file');
    expect(noFile.err).toContain('usage: scripts/restore FILE');
  });
});

describe('every command is reachable as documented', () => {
  const scripts = path.join(REPO_ROOT, 'scripts');
  const links = readdirSync(scripts).filter((name) => lstatSync(path.join(scripts, name)).isSymbolicLink());

  it('each scripts/NAME link to the tool is a registry command; each registry command has a link or an npm script', () => {
    for (const link of links) {
      expect(readlinkSync(path.join(scripts, link)), link).toBe('tool/command');
      expect(
        COMMANDS.map((e) => e.name),
        link,
      ).toContain(link);
    }
    const npmScripts = Object.values(
      (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
        .scripts,
    );
    for (const entry of COMMANDS) {
      const reachable = links.includes(entry.name) || npmScripts.some((s) => s.endsWith(`cli.ts ${entry.name}`));
      expect(reachable, entry.name).toBe(true);
    }
  });
});
