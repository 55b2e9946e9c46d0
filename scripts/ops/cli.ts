// The operations commands: scripts/deploy, rollback, backup, restore and drill.
import { parseArgs } from 'node:util';
import { defaultTarget } from './compose.js';
import { deploy, rollback } from './deploy.js';

const usage = `usage:
  scripts/deploy [--image REF]   build the working tree's app and switch to it without downtime
  scripts/rollback               switch back to the previous release the same way`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async deploy(args) {
    const { values } = parseArgs({ args, options: { image: { type: 'string' } } });
    await deploy({ ...defaultTarget(), image: values.image });
  },
  async rollback(args) {
    parseArgs({ args, options: {} });
    await rollback(defaultTarget());
  },
};

const [name = '', ...args] = process.argv.slice(2);
const command = commands[name];
if (!command) {
  console.error(usage);
  process.exit(2);
}
try {
  await command(args);
} catch (err) {
  console.error(`${name} failed: ${(err as Error).message}`);
  process.exit(1);
}
