// The DNS records the design needs for a domain: the apex points at the server, www is an
// alias of the apex, and CAA says which CA may issue. Printed for a zone file or a registrar's form.
import { isIPv4, isIPv6 } from 'node:net';
import { siteNames } from './domain.js';

export interface ZoneRequest {
  siteDomain: string;
  ipv4: string;
  ipv6?: string;
  /** The CA's CAA identity, e.g. letsencrypt.org. */
  caaIdentity: string;
  ttl?: number;
}

export interface ZoneRecord {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME' | 'CAA';
  value: string;
}

export function zoneRecords(request: ZoneRequest): ZoneRecord[] {
  const { canonical, apex } = siteNames(request.siteDomain);
  if (!isIPv4(request.ipv4)) throw new Error(`the server's IPv4 address is not an IPv4 address: "${request.ipv4}"`);
  if (request.ipv6 !== undefined && !isIPv6(request.ipv6))
    throw new Error(`the server's IPv6 address is not an IPv6 address: "${request.ipv6}"`);
  if (!/^[a-z0-9.-]+$/i.test(request.caaIdentity))
    throw new Error(`the CA's CAA identity must be a domain name, not "${request.caaIdentity}"`);
  return [
    { name: `${apex}.`, type: 'A', value: request.ipv4 },
    ...(request.ipv6 ? [{ name: `${apex}.`, type: 'AAAA' as const, value: request.ipv6 }] : []),
    { name: `${canonical}.`, type: 'CNAME', value: `${apex}.` },
    { name: `${apex}.`, type: 'CAA', value: `0 issue "${request.caaIdentity}"` },
  ];
}

/** Zone-file syntax (RFC 1035 master file), ready to paste under the domain's SOA and NS. */
export function formatZoneFile(records: ZoneRecord[], ttl = 3600): string {
  const width = Math.max(...records.map((record) => record.name.length));
  return records
    .map((record) => `${record.name.padEnd(width)}  ${ttl}  IN  ${record.type.padEnd(5)}  ${record.value}`)
    .join('\n');
}

/** A plain table for a registrar's web form: host relative to the domain ("@" for the apex). */
export function formatTable(records: ZoneRecord[], siteDomain: string): string {
  const { apex } = siteNames(siteDomain);
  const host = (name: string) => (name === `${apex}.` ? '@' : name.slice(0, -(apex.length + 2)));
  const rows = [['host', 'type', 'value'], ...records.map((record) => [host(record.name), record.type, record.value])];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
