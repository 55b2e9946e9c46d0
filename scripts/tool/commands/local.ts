// The commands that operate the stack on this machine (the compose project of the repo's .env).
import { wholeNumber } from '../core/args.js';
import { REPO_ROOT } from '../core/paths.js';
import { defineCommand, UsageError } from './define.js';

// Implementations load when a command runs, so that help needs nothing beyond this registry.
const target = async () => (await import('../core/compose.js')).defaultTarget();

export const deploy = defineCommand({
  name: 'deploy',
  summary: "build the working tree's app and switch to it without downtime",
  options: { image: { type: 'string', value: 'REF', help: 'switch to this app image instead of building one' } },
  async run(values) {
    const { deploy } = await import('../local/deploy.js');
    await deploy({ ...(await target()), image: values.image });
  },
});

export const rollback = defineCommand({
  name: 'rollback',
  summary: 'switch back to the previous release the same way',
  options: {},
  async run() {
    const { rollback } = await import('../local/deploy.js');
    await rollback(await target());
  },
});

export const backup = defineCommand({
  name: 'backup',
  summary: 'a consistent compressed dump of the database',
  options: {
    dir: { type: 'string', value: 'DIR', help: "folder for the dumps (default the repo's db/backups)" },
    keep: { type: 'string', value: 'N', default: '7', help: 'newest dumps kept in DIR; older ones are removed' },
  },
  async run(values) {
    const { backup } = await import('../local/backup.js');
    await backup({
      ...(await target()),
      dir: values.dir ?? `${REPO_ROOT}db/backups`,
      keep: wholeNumber('keep', values.keep, 7),
    });
  },
});

export const restore = defineCommand({
  name: 'restore',
  summary: 'check FILE is a complete dump, then replace the database with it',
  args: 'FILE',
  options: { yes: { type: 'boolean', short: 'y', help: 'do not ask before replacing the database' } },
  async run(values, positionals) {
    const [file] = positionals;
    if (!file || positionals.length > 1) throw new UsageError('give exactly one backup file');
    const [{ restore }, { confirm }] = await Promise.all([import('../local/backup.js'), import('../core/confirm.js')]);
    await restore({ ...(await target()), file, yes: values.yes, confirm });
  },
});

export const drill = defineCommand({
  name: 'drill',
  summary: 'stop, then kill, each part under load; print what users saw',
  options: {
    connections: { type: 'string', value: 'N', default: '4', help: 'connections of the load' },
    cap: { type: 'string', value: 'SECONDS', default: '60', help: 'longest wait for a part to recover by itself' },
    watch: { type: 'string', value: 'SECONDS', default: '10', help: 'how long a stopped part is watched' },
  },
  async run(values) {
    const { drill, formatDrill } = await import('../local/drill.js');
    const rows = await drill({
      ...(await target()),
      connections: wholeNumber('connections', values.connections, 4),
      selfRecoveryCapMs: wholeNumber('cap', values.cap, 60) * 1000,
      stoppedWatchMs: wholeNumber('watch', values.watch, 10) * 1000,
    });
    console.log(`\n${formatDrill(rows)}`);
  },
});

export const cert = {
  name: 'cert',
  summary: 'the certificate the local stack serves',
  subcommands: [
    defineCommand({
      name: 'status',
      summary: 'the served certificate: names, issuer, expiry, next renewal',
      options: {},
      async run() {
        const { certStatus } = await import('../cert/status.js');
        const stack = await target();
        console.log(await certStatus(stack, stack.env.SITE_DOMAIN ?? 'www.foobar.com'));
      },
    }),
  ],
};

export const reliabilityReport = defineCommand({
  name: 'reliability-report',
  summary: "docs/reliability.md's figures from the last test run",
  runAs: 'npm run report:reliability',
  options: {},
  async run() {
    const { reliabilityReport } = await import('../report/reliability.js');
    await reliabilityReport();
  },
});
