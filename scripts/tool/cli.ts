// The operating tool's one entry: scripts/deploy, rollback, backup, restore, drill and bench
// are links to scripts/tool/command, which runs this file with the command's name.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { bench } from './bench/main.js';
import { wholeNumber } from './core/args.js';
import { defaultTarget } from './core/compose.js';
import { REPO_ROOT } from './core/paths.js';
import { backup, restore } from './local/backup.js';
import { deploy, rollback } from './local/deploy.js';
import { drill, formatDrill } from './local/drill.js';
import { reliabilityReport } from './report/reliability.js';
import { certStatus } from './cert/status.js';
import { cluster } from './cluster/commands.js';
import { dnsCheck, dnsRecords } from './dns/commands.js';
import { vps, vpsUsage } from './vps/commands.js';

const usage = `usage:
  scripts/deploy [--image REF]   build the working tree's app and switch to it without downtime
  scripts/rollback               switch back to the previous release the same way
  scripts/backup [--dir DIR] [--keep N]
                                 consistent compressed dump (default db/backups/, keep 7)
  scripts/restore FILE [--yes]   check FILE is a complete dump, then replace the database with it
  scripts/drill [--connections N] [--cap SECONDS] [--watch SECONDS]
                                 stop, then kill, each part under load; print what users saw
  scripts/bench [options]        measure the stack (npm run bench; --help for its options)
  npm run report:reliability     docs/reliability.md's figures from the last test run

  scripts/dns records --ipv4 IP [--ipv6 IP] [--domain www.D] [--caa CA]
                                 the zone records for SITE_DOMAIN, as a zone file and a table
  scripts/dns check [--resolver HOST[:PORT]] [--ipv4 IP] [--ipv6 IP] [--domain www.D] [--caa CA]
                                 resolve them and say exactly what is wrong (as issuance does)
  scripts/cert status            the served certificate: names, issuer, expiry, next renewal
  scripts/cluster init|label|ship|deploy|scale|update|rollback|status --manager USER@HOST
                                 the stack on Docker Swarm across servers (scripts/cluster --help)

${vpsUsage.replace(/^/gm, '  ')}`;

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new Error('restore overwrites the database: run it in a terminal to confirm, or pass --yes');
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async deploy(args) {
    const { values } = parseArgs({ args, options: { image: { type: 'string' } } });
    await deploy({ ...defaultTarget(), image: values.image });
  },
  async rollback(args) {
    parseArgs({ args, options: {} });
    await rollback(defaultTarget());
  },
  async backup(args) {
    const { values } = parseArgs({ args, options: { dir: { type: 'string' }, keep: { type: 'string' } } });
    await backup({
      ...defaultTarget(),
      dir: values.dir ?? `${REPO_ROOT}db/backups`,
      keep: wholeNumber('keep', values.keep, 7),
    });
  },
  async restore(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { yes: { type: 'boolean', short: 'y' } },
    });
    const [file] = positionals;
    if (!file || positionals.length > 1) throw new Error('give exactly one backup file: scripts/restore FILE [--yes]');
    await restore({ ...defaultTarget(), file, yes: values.yes, confirm });
  },
  async drill(args) {
    const { values } = parseArgs({
      args,
      options: { connections: { type: 'string' }, cap: { type: 'string' }, watch: { type: 'string' } },
    });
    const rows = await drill({
      ...defaultTarget(),
      connections: wholeNumber('connections', values.connections, 4),
      selfRecoveryCapMs: wholeNumber('cap', values.cap, 60) * 1000,
      stoppedWatchMs: wholeNumber('watch', values.watch, 10) * 1000,
    });
    console.log(`\n${formatDrill(rows)}`);
  },
  bench,
  vps: (args) => vps(args, confirm),
  cluster,
  'reliability-report': reliabilityReport,
  async dns([sub = '', ...args]) {
    if (sub === 'records') return console.log(dnsRecords(args));
    if (sub !== 'check') throw new Error('scripts/dns records | check (see scripts/dns --help)');
    const { ok, report } = await dnsCheck(args);
    console.log(report);
    if (!ok) process.exitCode = 1;
  },
  async cert([sub = '', ...args]) {
    if (sub !== 'status') throw new Error('scripts/cert status');
    parseArgs({ args, options: {} });
    const target = defaultTarget();
    console.log(await certStatus(target, target.env.SITE_DOMAIN ?? 'www.foobar.com'));
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
