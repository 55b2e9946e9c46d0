// One way to define a command: its name, one-line summary, positional arguments and options
// (node:util parseArgs descriptors with a help text), and what it runs. Parsing and help both
// come from this definition.

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  /** The value's placeholder in help, e.g. REF (string options). */
  value?: string;
  /** The command does not run without it (exit 2). */
  required?: boolean;
  help: string;
}
export type Options = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;
type Given<O extends Options> = {
  -readonly [K in keyof O as O[K] extends { default: unknown } | { required: true } ? K : never]: ValueOf<O[K]>;
};
type Optional<O extends Options> = {
  -readonly [K in keyof O as O[K] extends { default: unknown } | { required: true } ? never : K]?: ValueOf<O[K]>;
};
export type Values<O extends Options> = Given<O> & Optional<O>;

export interface Command<O extends Options = Options> {
  name: string;
  summary: string;
  /** How a person runs it, when not as scripts/NAME. */
  runAs?: string;
  /** Positional arguments as shown in the usage, e.g. "HOST FILE"; none accepted when absent. */
  args?: string;
  options: O;
  /** Lines shown after the options: settings read from the environment, what else to know. */
  details?: string;
  /** `args` is the command line as given, for commands that record how they were run. */
  run(values: Values<O>, positionals: string[], args: string[]): Promise<void>;
}

export interface Group {
  name: string;
  summary: string;
  details?: string;
  subcommands: Command[];
}

export type Entry = Command | Group;

export const isGroup = (entry: Entry): entry is Group => 'subcommands' in entry;

/** Typed options for `run`; the registry holds commands without their option types. */
export function defineCommand<const O extends Options>(command: Command<O>): Command {
  return command as unknown as Command;
}

export { UsageError } from '../core/args.js';
