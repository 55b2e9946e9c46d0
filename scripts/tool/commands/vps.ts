// scripts/vps: the stack on one server reached over SSH.
import { wholeNumber } from '../core/args.js';
import { REPO_ROOT } from '../core/paths.js';
import type { Host } from '../remote/ssh.js';
import { defineCommand, UsageError } from './define.js';

const identity = { type: 'string', short: 'i', value: 'FILE', help: 'the SSH key to log in with' } as const;

/**
 * The server: the first positional argument, else VPS_HOST, else the deployment file's
 * vps.host; then what follows it. The SSH key: --identity, else the file's vps.identity.
 */
async function hostFrom(
  positionals: string[],
  identity: string | undefined,
  most: number,
): Promise<{ host: Host; rest: string[] }> {
  const [{ parseHost }, file] = await Promise.all([import('../remote/ssh.js'), deployFile()]);
  const fallback = process.env.VPS_HOST || file?.vps?.host;
  const [first, ...rest] = fallback && !positionals[0]?.includes('@') ? [fallback, ...positionals] : positionals;
  if (!first)
    throw new UsageError('give the server: user@host[:port] (or set VPS_HOST, or host: in the deployment file)');
  if (rest.length > most) throw new UsageError(`unexpected ${rest.slice(most).join(' ')}`);
  return {
    host: parseHost(first, {
      identity: identity ?? file?.vps?.identity,
      knownHosts: process.env.VPS_KNOWN_HOSTS || undefined,
    }),
    rest,
  };
}

const deployFile = async () => (await import('../core/deployfile.js')).loadDeployFile();

async function settings() {
  const [{ loadEnv }, { appEnv }, file] = await Promise.all([
    import('../core/env.js'),
    import('../core/deployfile.js'),
    deployFile(),
  ]);
  // The app the deployment file names, unless the environment (or .env) names one itself.
  const env = appEnv(file?.vps?.app, loadEnv());
  // ssh -C pays over the internet; next to the server (a LAN, a test's network) it only costs CPU.
  return { env, registry: env.REGISTRY || undefined, compress: env.VPS_SHIP_COMPRESS !== 'false' };
}

export const vps = {
  name: 'vps',
  summary: 'the stack on one server reached over SSH, from a fresh server to the live https site',
  details: `HOST is user@host[:port]; without it, VPS_HOST is the server, else the deployment file's vps.host.
The deployment file (.deploy.yml at the repo's root, or DEPLOY_FILE=FILE) holds setup's settings
and the app; flags override it for one run. REGISTRY=host:port ships images
through a registry; VPS_SHIP_COMPRESS=false sends images over SSH uncompressed; VPS_KNOWN_HOSTS=FILE
uses that known_hosts file.`,
  subcommands: [
    defineCommand({
      name: 'setup',
      summary: 'a fresh Debian/Ubuntu server to the live https site; again: changes only what is not right',
      args: 'HOST',
      options: {
        identity,
        domain: { type: 'string', value: 'www.example.com', help: "the site's name (required unless in the file)" },
        email: {
          type: 'string',
          value: 'you@example.com',
          help: "where Let's Encrypt writes about expiring certificates (required unless --acme-directory or in the file)",
        },
        ipv4: { type: 'string', value: 'IP', help: "the server's public IPv4 address, when it cannot tell" },
        'acme-directory': { type: 'string', value: 'URL', help: "an ACME directory other than Let's Encrypt's" },
        'acme-ca': { type: 'string', value: 'FILE', help: "the CA certificate that directory's HTTPS is signed by" },
        caa: { type: 'string', value: 'CA', help: 'the only CA allowed to issue (CAA record)' },
        resolver: { type: 'string', value: 'HOST[:PORT]', help: 'the resolver the DNS check asks' },
        set: { type: 'string', value: 'KEY=VALUE', multiple: true, help: "a setting of the server's .env" },
        'restart-db': {
          type: 'boolean',
          help: 'restart the database when a changed setting needs it, without asking',
        },
      },
      async run(values, positionals) {
        const { host } = await hostFrom(positionals, values.identity, 0);
        const [{ readFileSync }, { setupSettings }, { setup }, { confirm }, file] = await Promise.all([
          import('node:fs'),
          import('../vps/settings.js'),
          import('../vps/setup.js'),
          import('../core/confirm.js'),
          deployFile(),
        ]);
        const [{ backupSettings }, site] = await Promise.all([import('../vps/backups.js'), settings()]);
        let chosen;
        let extra;
        try {
          chosen = setupSettings(file?.vps, values);
          // The backups' secrets come from this machine's environment, read from their files.
          extra = backupSettings(chosen.extra, site.env, (name) => readFileSync(name, 'utf8')) ?? chosen.extra;
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        await setup({
          host,
          ...site,
          domain: chosen.domain,
          email: chosen.email,
          ipv4: chosen.ipv4,
          acmeDirectory: chosen['acme-directory'],
          acmeDirectoryCa: chosen['acme-ca'] ? readFileSync(chosen['acme-ca'], 'utf8') : undefined,
          caaIdentity: chosen.caa,
          dnsResolver: chosen.resolver,
          extra,
          settingsFile: file?.file,
          restartDatabase: values['restart-db'],
          // Asked only in a terminal; a script gets the refusal that names --restart-db.
          confirm: process.stdin.isTTY ? confirm : undefined,
        });
      },
    }),
    defineCommand({
      name: 'deploy',
      summary: "build the working tree's app on this machine (or take REF), ship it, switch without downtime",
      args: 'HOST',
      options: {
        identity,
        image: { type: 'string', value: 'REF', help: 'ship this app image instead of building one' },
        'ready-timeout': {
          type: 'string',
          value: 'SECONDS',
          default: '90',
          help: 'how long the new release may take to answer ready',
        },
      },
      async run(values, positionals) {
        const { host } = await hostFrom(positionals, values.identity, 0);
        const { vpsDeploy } = await import('../vps/operate.js');
        await vpsDeploy({
          host,
          ...(await settings()),
          image: values.image,
          readyTimeoutMs: wholeNumber('ready-timeout', values['ready-timeout'], 90) * 1000,
        });
      },
    }),
    defineCommand({
      name: 'rollback',
      summary: 'back to RELEASE (a name or id scripts/vps releases shows; default the previous one), the same way',
      args: 'HOST [RELEASE]',
      options: { identity },
      async run(values, positionals) {
        const { host, rest } = await hostFrom(positionals, values.identity, 1);
        const { vpsRollback } = await import('../vps/operate.js');
        await vpsRollback({ host, env: (await settings()).env, release: rest[0] });
      },
    }),
    defineCommand({
      name: 'releases',
      summary: 'the releases on the server, most recently live first, with when each was live',
      args: 'HOST',
      options: { identity },
      async run(values, positionals) {
        const { host } = await hostFrom(positionals, values.identity, 0);
        const [{ vpsReleases }, { formatReleases }] = await Promise.all([
          import('../vps/operate.js'),
          import('../vps/releases.js'),
        ]);
        console.log(formatReleases(await vpsReleases(host)));
      },
    }),
    defineCommand({
      name: 'prune',
      summary:
        'what each deploy does after itself: keep the last KEEP_RELEASES releases (5; the live and previous always), remove the other app images, dangling images and build cache',
      args: 'HOST',
      options: {
        identity,
        keep: {
          type: 'string',
          value: 'N',
          help: "releases kept this once (default the server's KEEP_RELEASES, else 5)",
        },
      },
      async run(values, positionals) {
        const { host } = await hostFrom(positionals, values.identity, 0);
        const keep = values.keep === undefined ? undefined : wholeNumber('keep', values.keep, 0);
        const { vpsPrune } = await import('../vps/operate.js');
        await vpsPrune(host, { keep });
      },
    }),
    defineCommand({
      name: 'backup',
      summary:
        "dump the server's database to a file on this machine; now: one off-site backup now; status: the last good off-site backup",
      args: 'HOST [now|status]',
      options: {
        identity,
        dir: { type: 'string', value: 'DIR', help: "folder for the dumps (default the repo's db/backups/<host>)" },
        keep: { type: 'string', value: 'N', default: '7', help: 'newest dumps kept in DIR' },
      },
      async run(values, positionals) {
        const { host, rest } = await hostFrom(positionals, values.identity, 1);
        const [action] = rest;
        if (action !== undefined && action !== 'now' && action !== 'status')
          throw new UsageError(`backup ${action}: give now, status, or nothing (a dump to this machine)`);
        const { vpsBackup, vpsBackupNow, vpsBackupStatus } = await import('../vps/operate.js');
        if (action === 'now') console.log(await vpsBackupNow(host));
        else if (action === 'status') console.log(await vpsBackupStatus(host));
        else
          await vpsBackup({
            host,
            env: (await settings()).env,
            dir: values.dir ?? `${REPO_ROOT}db/backups/${host.host}`,
            keep: wholeNumber('keep', values.keep, 7),
          });
      },
    }),
    defineCommand({
      name: 'restore',
      summary: "check FILE, then replace the server's database with it; or with a snapshot of the off-site backups",
      args: 'HOST FILE | HOST --from-offsite [SNAPSHOT]',
      options: {
        identity,
        yes: { type: 'boolean', short: 'y', help: 'do not ask before replacing the database' },
        'from-offsite': {
          type: 'boolean',
          help: 'restore from the off-site repository setup named (SNAPSHOT: an id scripts/vps backup status shows; default the newest), then replay the binary log shipped since',
        },
        to: {
          type: 'string',
          value: 'TIME',
          help: 'with --from-offsite: the point in time to recover to (2026-12-07T21:15:00Z, or with an offset): the newest snapshot before it, and the binary log up to it',
        },
      },
      async run(values, positionals) {
        const { host, rest } = await hostFrom(positionals, values.identity, 1);
        const [{ vpsRestore, vpsRestoreOffsite }, { confirm }] = await Promise.all([
          import('../vps/operate.js'),
          import('../core/confirm.js'),
        ]);
        if (values['from-offsite']) {
          const [snapshot] = rest;
          if (snapshot !== undefined && !/^(latest|[0-9a-f]{4,64})$/.test(snapshot))
            throw new UsageError(
              `${snapshot} is not a snapshot id: give the hex id scripts/vps backup status shows, or latest`,
            );
          let to;
          if (values.to !== undefined)
            try {
              to = (await import('../vps/backups.js')).restoreTime(values.to);
            } catch (err) {
              throw new UsageError((err as Error).message);
            }
          await vpsRestoreOffsite({ host, env: {}, snapshot, to, yes: values.yes, confirm });
          return;
        }
        if (values.to !== undefined) throw new UsageError('--to goes with --from-offsite');
        const [file] = rest;
        if (!file) throw new UsageError('give exactly one backup file (or --from-offsite)');
        await vpsRestore({ host, env: (await settings()).env, file, yes: values.yes, confirm });
      },
    }),
    defineCommand({
      name: 'status',
      summary: 'services, certificate expiry, disk, last release',
      args: 'HOST',
      options: { identity },
      async run(values, positionals) {
        const { host } = await hostFrom(positionals, values.identity, 0);
        const { vpsStatus } = await import('../vps/operate.js');
        console.log(await vpsStatus(host));
      },
    }),
    defineCommand({
      name: 'logs',
      summary: "the services' logs (or one service's)",
      args: 'HOST [SERVICE]',
      options: {
        identity,
        follow: { type: 'boolean', short: 'f', help: 'keep printing new lines' },
        tail: { type: 'string', value: 'N', default: '100', help: 'lines of the past shown' },
        since: {
          type: 'string',
          value: 'DURATION|TIME',
          help: "only lines since then: 30s, 10m, 2h, 1d back, or a time (2026-12-07T17:00:00Z; no zone: this machine's)",
        },
        grep: { type: 'string', value: 'PATTERN', help: 'only the lines this regular expression matches' },
      },
      async run(values, positionals) {
        const { host, rest } = await hostFrom(positionals, values.identity, 1);
        const { vpsLogs, sinceOption, grepOption } = await import('../vps/operate.js');
        let filters;
        try {
          filters = {
            since: values.since === undefined ? undefined : sinceOption(values.since),
            grep: values.grep === undefined ? undefined : grepOption(values.grep),
          };
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        process.exitCode = await vpsLogs(host, {
          service: rest[0],
          follow: values.follow,
          tail: wholeNumber('tail', values.tail, 100),
          ...filters,
        });
      },
    }),
    defineCommand({
      name: 'ssh',
      summary: "a shell on the server (in /opt/webstack) or in a service's container",
      args: 'HOST [SERVICE]',
      options: { identity },
      async run(values, positionals) {
        const { host, rest } = await hostFrom(positionals, values.identity, 1);
        const { vpsShell } = await import('../vps/operate.js');
        process.exitCode = await vpsShell(host, rest[0]);
      },
    }),
    defineCommand({
      name: 'exec',
      summary: "run CMD in the live app's container, its output here; exits with its exit code",
      args: 'HOST -- CMD [ARGS...]',
      options: { identity },
      async run(values, positionals, args) {
        const end = args.indexOf('--');
        const command = end === -1 ? [] : args.slice(end + 1);
        if (command.length === 0) throw new UsageError('give the command after --, e.g. -- node --version');
        const { host } = await hostFrom(positionals.slice(0, positionals.length - command.length), values.identity, 0);
        const { vpsExec } = await import('../vps/operate.js');
        process.exitCode = await vpsExec(host, command);
      },
    }),
  ],
};
