// Checks, through a resolver of the caller's choice, that the domain's records are the
// ones zone.ts prints: apex A (and AAAA) at this server, www leading to the apex, and no
// CAA record refusing the CA. Says exactly what is wrong. The certificate manager runs
// it before every ACME order and `scripts/dns check` prints it.
import { Resolver } from 'node:dns/promises';
import { siteNames } from './domain.js';

export interface DnsCheckRequest {
  siteDomain: string;
  /** This server's public addresses; without them, "pointing elsewhere" cannot be told. */
  ipv4?: string;
  ipv6?: string;
  caaIdentity: string;
  /** host or host:port of the resolver to ask; the system's resolvers when absent. */
  resolver?: string;
}

export interface DnsCheckResult {
  ok: boolean;
  /** One sentence per fault, empty when ok. */
  problems: string[];
  /** What was found, one line per name, for the log and the command's output. */
  found: string[];
}

const MAX_CNAME_HOPS = 8;
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND']);

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((value) => b.includes(value));

export async function checkDns(request: DnsCheckRequest): Promise<DnsCheckResult> {
  const { canonical, apex } = siteNames(request.siteDomain);
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  if (request.resolver) resolver.setServers([request.resolver]);
  const via = request.resolver ? `resolver ${request.resolver}` : 'the system resolver';
  const problems: string[] = [];
  const found: string[] = [];

  /** Records of one type, [] when the name has none; a resolver failure is a problem of its own. */
  async function lookup<T>(name: string, type: string, query: () => Promise<T[]>): Promise<T[] | undefined> {
    try {
      return await query();
    } catch (err) {
      if (NO_RECORD.has(codeOf(err))) return [];
      problems.push(`${via} could not answer ${type} for ${name}: ${codeOf(err)}`);
      return undefined;
    }
  }

  // The apex: A (and AAAA) must be this server's.
  const apexV4 = await lookup(apex, 'A', () => resolver.resolve4(apex));
  const apexV6 = await lookup(apex, 'AAAA', () => resolver.resolve6(apex));
  if (apexV4) {
    found.push(`${apex} A ${apexV4.join(', ') || '(none)'}`);
    if (apexV4.length === 0)
      problems.push(`${apex} has no A record (it must point to ${request.ipv4 ?? 'the server'})`);
    else if (request.ipv4 && !sameSet(apexV4, [request.ipv4]))
      problems.push(`${apex} A points to ${apexV4.join(', ')}, not to this server (${request.ipv4})`);
  }
  if (apexV6) {
    if (apexV6.length > 0) found.push(`${apex} AAAA ${apexV6.join(', ')}`);
    if (request.ipv6 && !sameSet(apexV6, [request.ipv6]))
      problems.push(
        apexV6.length === 0
          ? `${apex} has no AAAA record (it must point to ${request.ipv6})`
          : `${apex} AAAA points to ${apexV6.join(', ')}, not to this server (${request.ipv6})`,
      );
    else if (!request.ipv6 && apexV6.length > 0)
      problems.push(
        `${apex} has an AAAA record (${apexV6.join(', ')}) but no server IPv6 address is configured: the CA prefers IPv6 and would validate there`,
      );
  }

  // www: a CNAME chain that must end at the apex (the design's record), without a loop.
  const chain = [canonical];
  let unanswered: boolean;
  for (;;) {
    const current = chain[chain.length - 1]!;
    const targets = await lookup(current, 'CNAME', () => resolver.resolveCname(current));
    unanswered = targets === undefined && chain.length === 1;
    if (!targets || targets.length === 0) break;
    const next = targets[0]!.toLowerCase().replace(/\.$/, '');
    if (chain.includes(next) || chain.length > MAX_CNAME_HOPS) {
      problems.push(`CNAME loop: ${[...chain, next].join(' → ')}`);
      chain.push(next);
      break;
    }
    chain.push(next);
  }
  const end = chain[chain.length - 1]!;
  if (!unanswered) found.push(chain.length > 1 ? `${chain.join(' CNAME ')}` : `${canonical} (no CNAME)`);
  if (!unanswered && !problems.some((problem) => problem.startsWith('CNAME loop'))) {
    if (chain.length === 1) {
      const own = await lookup(canonical, 'A', () => resolver.resolve4(canonical));
      if (own && own.length === 0) problems.push(`${canonical} has no record (it must be a CNAME to ${apex}.)`);
      else if (own && apexV4 && !sameSet(own, apexV4))
        problems.push(
          `${canonical} has no CNAME and its A ${own.join(', ')} is not the apex's (make it a CNAME to ${apex}.)`,
        );
    } else if (end !== apex) {
      // Another alias is fine only if it leads to the apex's own addresses.
      const endV4 = await lookup(end, 'A', () => resolver.resolve4(end));
      if (!(endV4 && apexV4 && apexV4.length > 0 && sameSet(endV4, apexV4)))
        problems.push(
          `${canonical} is a CNAME to ${chain.slice(1).join(' → ')}${endV4?.length ? ` (${endV4.join(', ')})` : ''}, not to ${apex} (it must be a CNAME to ${apex}.)`,
        );
    }
  }

  // CAA: the closest name (climbing from each site name) with CAA records decides.
  for (const name of [canonical, apex]) {
    const labels = name.split('.');
    for (let at = 0; at < labels.length - 1; at++) {
      const owner = labels.slice(at).join('.');
      const records = await lookup(owner, 'CAA', () => resolver.resolveCaa(owner));
      if (!records || records.length === 0) continue;
      const issuers = records.flatMap((record) => (record.issue === undefined ? [] : [record.issue]));
      const allowed = issuers.some((value) => value.split(';')[0]!.trim().toLowerCase() === request.caaIdentity);
      found.push(`${owner} CAA issue ${issuers.map((value) => `"${value}"`).join(', ') || '(none)'}`);
      if (issuers.length > 0 && !allowed)
        problems.push(
          `CAA on ${owner} refuses the CA: it allows only ${issuers.map((value) => `"${value}"`).join(', ')}; add 0 issue "${request.caaIdentity}"`,
        );
      break;
    }
  }

  return { ok: problems.length === 0, problems: [...new Set(problems)], found };
}
