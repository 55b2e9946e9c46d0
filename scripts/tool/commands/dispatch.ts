// From a command line to a command's run, its help (exit 0) or its usage and what was wrong (exit 2).
import { parseArgs } from 'node:util';
import { isGroup, UsageError, type Command, type Entry, type Group } from './define.js';
import { commandHelp, groupHelp, overview } from './help.js';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const console_: Output = { out: (text) => console.log(text), err: (text) => console.error(text) };

const HELP_WORDS = new Set(['help', '--help', '-h']);

function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  return args[0] === 'help' || own.includes('--help') || own.includes('-h');
}

function wrong(io: Output, problem: string, usage: string): number {
  io.err(`error: ${problem}\n\n${usage}`);
  return 2;
}

async function runCommand(command: Command, args: string[], io: Output, group?: Group): Promise<number> {
  const name = group ? `${group.name} ${command.name}` : command.name;
  if (asksForHelp(args)) {
    io.out(commandHelp(command, group));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: command.options, allowPositionals: command.args !== undefined, strict: true });
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      return wrong(io, (err as Error).message, commandHelp(command, group));
    }
    throw err;
  }
  const missing = Object.entries(command.options).filter(
    ([key, spec]) => spec.required && parsed.values[key] === undefined,
  );
  if (missing.length > 0) {
    return wrong(io, `missing ${missing.map(([key]) => `--${key}`).join(', ')}`, commandHelp(command, group));
  }
  try {
    await command.run(parsed.values as never, parsed.positionals, args);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return wrong(io, err.message, commandHelp(command, group));
    io.err(`${name} failed: ${(err as Error).message}`);
    return 1;
  }
}

async function runGroup(group: Group, args: string[], io: Output): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) return wrong(io, `scripts/${group.name} needs a subcommand`, groupHelp(group));
  if (HELP_WORDS.has(sub) && (sub !== 'help' || rest[0] === undefined)) {
    io.out(groupHelp(group));
    return 0;
  }
  const [wanted, commandArgs] = sub === 'help' ? [rest[0], ['--help']] : [sub, rest];
  const command = group.subcommands.find((c) => c.name === wanted);
  if (!command) return wrong(io, `unknown subcommand "${wanted}" of scripts/${group.name}`, groupHelp(group));
  return runCommand(command, commandArgs, io, group);
}

/**
 * Runs `name args...` against the registry and resolves to the exit status. `command` (the
 * bare scripts/tool/command) takes the command's name as its first argument, or prints the overview.
 */
export async function dispatch(
  entries: readonly Entry[],
  [name = '', ...args]: string[],
  io: Output = console_,
): Promise<number> {
  if (name === 'command') {
    const [first, ...rest] = args;
    if (first === undefined || HELP_WORDS.has(first)) {
      if (first === 'help' && rest[0] !== undefined) return dispatch(entries, [rest[0], '--help'], io);
      io.out(overview(entries));
      return 0;
    }
    return dispatch(entries, [first, ...rest], io);
  }
  const entry = entries.find((e) => e.name === name);
  if (!entry) return wrong(io, `unknown command "${name}"`, overview(entries));
  return isGroup(entry) ? runGroup(entry, args, io) : runCommand(entry, args, io);
}
