// scripts/dns records | check: the zone records the design needs for SITE_DOMAIN, and a
// check of what a resolver really answers (the same check the certs service runs before
// every ACME order, nginx/certs/src/dns-check.ts).
import { checkDns } from '../../../nginx/certs/src/dns-check.js';
import { formatTable, formatZoneFile, zoneRecords } from '../../../nginx/certs/src/zone.js';
import { loadEnv } from '../core/env.js';

const DEFAULT_CAA = 'letsencrypt.org';

export interface DnsFlags {
  domain?: string;
  ipv4?: string;
  ipv6?: string;
  caa?: string;
  resolver?: string;
}

/** Flags win over the settings (.env's SITE_DOMAIN, SERVER_IPV4, ... under the environment), then the defaults. */
export function dnsSettings(flags: DnsFlags, env: NodeJS.ProcessEnv = loadEnv()) {
  return {
    siteDomain: flags.domain ?? env.SITE_DOMAIN ?? 'www.foobar.com',
    ipv4: flags.ipv4 ?? (env.SERVER_IPV4 || undefined),
    ipv6: flags.ipv6 ?? (env.SERVER_IPV6 || undefined),
    caaIdentity: flags.caa ?? (env.ACME_CAA_IDENTITY || DEFAULT_CAA),
    resolver: flags.resolver ?? (env.DNS_RESOLVER || undefined),
  };
}

export function dnsRecords(flags: DnsFlags, env?: NodeJS.ProcessEnv): string {
  const { siteDomain, ipv4, ipv6, caaIdentity } = dnsSettings(flags, env);
  if (!ipv4)
    throw new Error("give the server's public IPv4 address: scripts/dns records --ipv4 ADDRESS [--ipv6 ADDRESS]");
  const records = zoneRecords({ siteDomain, ipv4, ipv6, caaIdentity });
  return [
    `; ${siteDomain}: the apex points at the server, www is an alias of the apex, only ${caaIdentity} may issue`,
    formatZoneFile(records),
    '',
    formatTable(records, siteDomain),
  ].join('\n');
}

/** Prints what was found and every problem; resolves to false when anything is wrong. */
export async function dnsCheck(flags: DnsFlags): Promise<{ ok: boolean; report: string }> {
  const request = dnsSettings(flags);
  const result = await checkDns(request);
  const lines = [
    `checked ${request.siteDomain} through ${request.resolver ?? 'the system resolver'}`,
    ...result.found.map((line) => `  found: ${line}`),
    ...(result.ok ? ['DNS is ready for issuance'] : result.problems.map((problem) => `  wrong: ${problem}`)),
  ];
  return { ok: result.ok, report: lines.join('\n') };
}
