// The operating tool's one entry: scripts/deploy, vps, dns, ... are links to scripts/tool/command,
// which runs this file with the command's name; every command is defined in the registry.
import { COMMANDS } from './commands/index.js';
import { dispatch } from './commands/dispatch.js';

const status = await dispatch(COMMANDS, process.argv.slice(2));
// A command that ran may have set its own status (a failed check); a wrong command line or
// a failure ends here.
if (status !== 0) process.exit(status);
