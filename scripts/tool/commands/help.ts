// Help text, generated from the command definitions alone.
import { type Command, type Entry, type Group, type OptionSpec } from './define.js';

const WIDTH = 100;

/** Words into lines of at most WIDTH characters; lines after the first start with `indent` spaces. */
function wrap(text: string, indent: number, first = 0): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const start = lines.length === 0 ? first : indent;
    if (line && start + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'print this help and change nothing' };

function flag(name: string, spec: OptionSpec): string {
  return spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}` : `--${name}`;
}

/** What a person types to run the command, e.g. `scripts/vps deploy`. */
const invocation = (command: Command, group?: Group) =>
  command.runAs ?? `scripts/${group ? `${group.name} ` : ''}${command.name}`;

/** The command line, e.g. `scripts/vps deploy HOST [--image REF] ...`. */
export function usageLine(command: Command, group?: Group): string {
  const words = [invocation(command, group)];
  if (command.args) words.push(command.args);
  for (const [name, spec] of Object.entries(command.options)) {
    const text = `${flag(name, spec)}${spec.multiple ? ' ...' : ''}`;
    words.push(spec.required ? text : `[${text}]`);
  }
  return wrap(words.join(' '), 8, 'usage: '.length);
}

function optionLines(command: Command): string[] {
  const rows = [...Object.entries(command.options), ['help', HELP_OPTION] as const].map(([name, spec]) => {
    const left = `${spec.short ? `-${spec.short}, ` : ''}${flag(name, spec)}`;
    const extra = [
      spec.required ? 'required' : '',
      spec.multiple ? 'may be given more than once' : '',
      spec.default !== undefined && spec.type === 'string' ? `default ${spec.default}` : '',
    ].filter(Boolean);
    return [left, `${spec.help}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, text]) => `  ${left.padEnd(width)}${wrap(text, width + 2, width + 2)}`);
}

export function commandHelp(command: Command, group?: Group): string {
  return [
    `${invocation(command, group)}: ${command.summary}`,
    '',
    `usage: ${usageLine(command, group)}`,
    '',
    'options:',
    ...optionLines(command),
    ...(command.details ? ['', command.details] : []),
    ...(group?.details ? ['', group.details] : []),
  ].join('\n');
}

export function groupHelp(group: Group): string {
  const width = Math.max(...group.subcommands.map((c) => c.name.length)) + 2;
  return [
    `scripts/${group.name}: ${group.summary}`,
    '',
    `usage: scripts/${group.name} SUBCOMMAND [options]   (scripts/${group.name} SUBCOMMAND --help for its options)`,
    '',
    'subcommands:',
    ...group.subcommands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    ...(group.details ? ['', group.details] : []),
  ].join('\n');
}

/** The overview a bare scripts/tool/command prints. */
export function overview(entries: readonly Entry[]): string {
  const width = Math.max(...entries.map((e) => e.name.length)) + 2;
  return [
    "webstack's operating tool: scripts/NAME runs the command NAME (scripts/tool/command NAME does too)",
    '',
    'commands:',
    ...entries.map((e) => `  ${e.name.padEnd(width)}${e.summary}`),
    '',
    "scripts/NAME --help (or -h, or scripts/NAME help) prints a command's usage and options;",
    "scripts/up --help and scripts/test --help the two bash commands'; --version the release.",
  ].join('\n');
}
