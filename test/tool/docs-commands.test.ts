// Every scripts/... command line the docs show in a fenced block names a command (and, for the
// commands that have them, a subcommand) that exists: README.md and every page under docs/.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../scripts/tool/commands/index.js';
import { isGroup } from '../../scripts/tool/commands/define.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

function markdownFiles(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    if (!existsSync(path.join(REPO_ROOT, dir))) return;
    for (const entry of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.md')) found.push(file);
    }
  };
  walk('docs');
  return found;
}

/** The lines inside ``` or ~~~ fences, with their line numbers. */
function fencedLines(markdown: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker && (fence === undefined || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === undefined ? marker : undefined;
    } else if (fence !== undefined) lines.push({ line: i + 1, text });
  });
  return lines;
}

/** Each `scripts/NAME [WORD]` on a line (NAME a command, not a file path), with the word after it. */
function commandLines(text: string): { name: string; next?: string }[] {
  const found: { name: string; next?: string }[] = [];
  for (const match of text.matchAll(/(?<![\w-]|[\w-]\/)scripts\/([\w./-]+)([^\n]*)/g)) {
    const words = match[2]!.trim().split(/\s+/).filter(Boolean);
    let name = match[1]!;
    if (name === 'tool/command') name = words.shift() ?? 'command';
    else if (name.includes('/') || name.includes('.')) continue;
    found.push({ name, next: words[0]?.replace(/[`'",;)]+$/, '') });
  }
  return found;
}

/** up and test: the bash commands, files of their own beside the tool's links. */
const bashCommands = readdirSync(path.join(REPO_ROOT, 'scripts')).filter((name) => {
  const stat = lstatSync(path.join(REPO_ROOT, 'scripts', name));
  return stat.isFile() && (stat.mode & 0o111) !== 0;
});

/** What is wrong with one command line, or undefined. */
function problem({ name, next }: { name: string; next?: string }): string | undefined {
  if (name === 'command' || bashCommands.includes(name)) return undefined;
  const entry = COMMANDS.find((e) => e.name === name);
  if (!entry) return `no command "${name}"`;
  if (!isGroup(entry) || next === undefined) return undefined;
  // A placeholder (SUBCOMMAND, <sub>, [...]) or help stands for any subcommand.
  if (/^([A-Z]|<|\[|-)/.test(next) || next === 'help') return undefined;
  const missing = next.split('|').filter((sub) => !entry.subcommands.some((c) => c.name === sub));
  return missing.length > 0 ? `no subcommand "${missing.join('|')}" of scripts/${name}` : undefined;
}

describe('the docs show only commands that exist', () => {
  it('finds command lines the way the docs write them', () => {
    expect(commandLines('$ sudo VPS_HOST=x scripts/vps deploy --image r')).toEqual([{ name: 'vps', next: 'deploy' }]);
    expect(commandLines('scripts/tool/command dns records`')).toEqual([{ name: 'dns', next: 'records' }]);
    expect(commandLines('see scripts/tool/bench/results/latest.md, db/scripts/x')).toEqual([]);
    expect(commandLines('./scripts/up')).toEqual([{ name: 'up', next: undefined }]);
    expect(problem({ name: 'dns', next: 'recrods' })).toBe('no subcommand "recrods" of scripts/dns');
    expect(problem({ name: 'deplyo' })).toBe('no command "deplyo"');
    expect(problem({ name: 'up' })).toBeUndefined();
    expect(fencedLines('a\n```sh\nscripts/up\n```\nscripts/nope\n~~~\nb\n~~~')).toEqual([
      { line: 3, text: 'scripts/up' },
      { line: 7, text: 'b' },
    ]);
  });

  it('README.md shows command lines in fenced blocks (what the check reads)', () => {
    const shown = fencedLines(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).flatMap(({ text }) =>
      commandLines(text),
    );
    expect(shown.map((c) => c.name)).toContain('up');
  });

  it.each(markdownFiles())('%s', (file) => {
    const wrong = fencedLines(readFileSync(path.join(REPO_ROOT, file), 'utf8')).flatMap(({ line, text }) =>
      commandLines(text).flatMap((command) => {
        const what = problem(command);
        return what ? [`${file}:${line}: ${what}: ${text.trim()}`] : [];
      }),
    );
    expect(wrong).toEqual([]);
  });
});
