// scripts/vps: argument parsing for its subcommands (node:util parseArgs, as the rest of the tool).
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { wholeNumber } from '../core/args.js';
import { loadEnv } from '../core/env.js';
import { REPO_ROOT } from '../core/paths.js';
import { parseHost, type Host } from '../remote/ssh.js';
import { vpsBackup, vpsDeploy, vpsLogs, vpsRestore, vpsRollback, vpsShell, vpsStatus } from './operate.js';
import { parseSets } from './settings.js';
import { setup } from './setup.js';

export const vpsUsage = `usage (HOST is user@host[:port]; or set VPS_HOST):
  scripts/vps setup HOST --domain www.example.com --email you@example.com [--ipv4 IP]
        [--acme-directory URL] [--acme-ca FILE] [--caa CA] [--resolver HOST[:PORT]] [--set KEY=VALUE ...]
                                 a fresh Debian/Ubuntu server to the live https site; again: changes only what is not right
  scripts/vps deploy HOST [--image REF] [--ready-timeout SECONDS]
                                 build the working tree's app here (or take REF), ship it, switch without downtime
  scripts/vps rollback HOST               back to the previous release, the same way
  scripts/vps backup HOST [--dir DIR] [--keep N]   dump the server's database to a file here
  scripts/vps restore HOST FILE [--yes]            check FILE, then replace the server's database with it
  scripts/vps status HOST                 services, certificate expiry, disk, last release
  scripts/vps logs HOST [SERVICE] [--follow] [--tail N]
  scripts/vps ssh HOST [SERVICE]          a shell on the server (in /opt/webstack) or in a service's container
options for every command: --identity FILE (SSH key); REGISTRY=host:port ships images through a registry;
VPS_SHIP_COMPRESS=false sends images over SSH uncompressed; VPS_KNOWN_HOSTS=FILE uses that known_hosts file`;

const common = { identity: { type: 'string', short: 'i' } } as const;

function hostFrom(positionals: string[], identity: string | undefined): { host: Host; rest: string[] } {
  const [first, ...rest] =
    process.env.VPS_HOST && !positionals[0]?.includes('@') ? [process.env.VPS_HOST, ...positionals] : positionals;
  if (!first) throw new Error('give the server: scripts/vps <command> user@host[:port] (or set VPS_HOST)');
  return { host: parseHost(first, { identity, knownHosts: process.env.VPS_KNOWN_HOSTS || undefined }), rest };
}

function noMore(rest: string[], command: string) {
  if (rest.length > 0) throw new Error(`scripts/vps ${command}: unexpected ${rest.join(' ')}`);
}

export async function vps(args: string[], confirm: (question: string) => Promise<boolean>): Promise<void> {
  const [sub = '', ...rest] = args;
  const env = loadEnv();
  const registry = env.REGISTRY || undefined;
  // ssh -C pays over the internet; next to the server (a LAN, a test's network) it only costs CPU.
  const compress = env.VPS_SHIP_COMPRESS !== 'false';
  switch (sub) {
    case 'setup': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          ...common,
          domain: { type: 'string' },
          email: { type: 'string' },
          ipv4: { type: 'string' },
          'acme-directory': { type: 'string' },
          'acme-ca': { type: 'string' },
          caa: { type: 'string' },
          resolver: { type: 'string' },
          set: { type: 'string', multiple: true },
        },
      });
      const { host, rest: extra } = hostFrom(positionals, values.identity);
      noMore(extra, 'setup');
      if (!values.domain) throw new Error("give the site's name: --domain www.example.com");
      if (!values.email && !values['acme-directory']) {
        throw new Error("give --email you@example.com (Let's Encrypt writes there about expiring certificates)");
      }
      await setup({
        host,
        env,
        registry,
        compress,
        domain: values.domain,
        email: values.email,
        ipv4: values.ipv4,
        acmeDirectory: values['acme-directory'],
        acmeDirectoryCa: values['acme-ca'] ? readFileSync(values['acme-ca'], 'utf8') : undefined,
        caaIdentity: values.caa,
        dnsResolver: values.resolver,
        extra: parseSets(values.set ?? []),
      });
      return;
    }
    case 'deploy': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { ...common, image: { type: 'string' }, 'ready-timeout': { type: 'string' } },
      });
      const { host, rest: extra } = hostFrom(positionals, values.identity);
      noMore(extra, 'deploy');
      await vpsDeploy({
        host,
        env,
        image: values.image,
        registry,
        compress,
        readyTimeoutMs: wholeNumber('ready-timeout', values['ready-timeout'], 90) * 1000,
      });
      return;
    }
    case 'rollback': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: common });
      const { host, rest: extra } = hostFrom(positionals, values.identity);
      noMore(extra, 'rollback');
      await vpsRollback({ host, env });
      return;
    }
    case 'backup': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { ...common, dir: { type: 'string' }, keep: { type: 'string' } },
      });
      const { host, rest: extra } = hostFrom(positionals, values.identity);
      noMore(extra, 'backup');
      await vpsBackup({
        host,
        env,
        dir: values.dir ?? `${REPO_ROOT}db/backups/${host.host}`,
        keep: wholeNumber('keep', values.keep, 7),
      });
      return;
    }
    case 'restore': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { ...common, yes: { type: 'boolean', short: 'y' } },
      });
      const { host, rest: files } = hostFrom(positionals, values.identity);
      const [file] = files;
      if (!file || files.length > 1)
        throw new Error('give exactly one backup file: scripts/vps restore HOST FILE [--yes]');
      await vpsRestore({ host, env, file, yes: values.yes, confirm });
      return;
    }
    case 'status': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: common });
      const { host, rest: extra } = hostFrom(positionals, values.identity);
      noMore(extra, 'status');
      console.log(await vpsStatus(host));
      return;
    }
    case 'logs': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { ...common, follow: { type: 'boolean', short: 'f' }, tail: { type: 'string' } },
      });
      const { host, rest: services } = hostFrom(positionals, values.identity);
      if (services.length > 1) throw new Error('scripts/vps logs HOST [SERVICE]: one service at most');
      process.exitCode = await vpsLogs(host, {
        service: services[0],
        follow: values.follow,
        tail: wholeNumber('tail', values.tail, 100),
      });
      return;
    }
    case 'ssh': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: common });
      const { host, rest: services } = hostFrom(positionals, values.identity);
      if (services.length > 1) throw new Error('scripts/vps ssh HOST [SERVICE]: one service at most');
      process.exitCode = await vpsShell(host, services[0]);
      return;
    }
    default:
      throw new Error(`unknown command "${sub}"\n${vpsUsage}`);
  }
}
