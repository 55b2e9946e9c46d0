// scripts/dns records | check: the zone records the design needs for SITE_DOMAIN, and a
// check of what a resolver really answers (the same check the certs service runs before
// every ACME order, nginx/certs/src/dns-check.ts).
import { parseArgs } from 'node:util';
import { checkDns } from '../../../nginx/certs/src/dns-check.js';
import { formatTable, formatZoneFile, zoneRecords } from '../../../nginx/certs/src/zone.js';

const DEFAULT_CAA = 'letsencrypt.org';

const options = {
  domain: { type: 'string' },
  ipv4: { type: 'string' },
  ipv6: { type: 'string' },
  caa: { type: 'string' },
  resolver: { type: 'string' },
} as const;

/** Flags win over the environment (.env's SITE_DOMAIN, SERVER_IPV4, ...), then the defaults. */
function settings(args: string[]) {
  const { values } = parseArgs({ args, options });
  const env = process.env;
  return {
    siteDomain: values.domain ?? env.SITE_DOMAIN ?? 'www.foobar.com',
    ipv4: values.ipv4 ?? (env.SERVER_IPV4 || undefined),
    ipv6: values.ipv6 ?? (env.SERVER_IPV6 || undefined),
    caaIdentity: values.caa ?? (env.ACME_CAA_IDENTITY || DEFAULT_CAA),
    resolver: values.resolver ?? (env.DNS_RESOLVER || undefined),
  };
}

export function dnsRecords(args: string[]): string {
  const { siteDomain, ipv4, ipv6, caaIdentity } = settings(args);
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
export async function dnsCheck(args: string[]): Promise<{ ok: boolean; report: string }> {
  const request = settings(args);
  const result = await checkDns(request);
  const lines = [
    `checked ${request.siteDomain} through ${request.resolver ?? 'the system resolver'}`,
    ...result.found.map((line) => `  found: ${line}`),
    ...(result.ok ? ['DNS is ready for issuance'] : result.problems.map((problem) => `  wrong: ${problem}`)),
  ];
  return { ok: result.ok, report: lines.join('\n') };
}
