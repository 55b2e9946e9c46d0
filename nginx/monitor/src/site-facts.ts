// The site as the outside sees it, for the whiteboard's DNS and nginx boxes: the domain's
// records as they resolve now, and the certificate nginx serves on 443. Both change
// rarely and each costs lookups or a handshake, so the monitor refreshes them once a
// minute, in the background of its ticks. (The certs service runs the full DNS check
// before it orders a certificate; this is only what a visitor's resolver would see.)
import { Resolver } from 'node:dns/promises';
import tls from 'node:tls';

export type DnsHealth = 'up' | 'down' | 'unknown';

export interface DnsFacts {
  /** "name TYPE value" lines, as a zone file would show them. */
  records: string[];
  health: DnsHealth;
}

/** Up when the site's name resolves to the server's address, down when it does not. */
export const dnsHealth = (addresses: string[], serverIpv4: string): DnsHealth =>
  addresses.includes(serverIpv4) ? 'up' : 'down';

/** A resolver asking `server` (host[:port]) only, or the system's when none is named. */
export function resolverFor(server: string | undefined): Resolver {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  if (server) resolver.setServers([server]);
  return resolver;
}

const answers = async <T>(lookup: Promise<T[]>): Promise<T[]> => lookup.catch(() => []);

/** The apex's A, AAAA and CAA records, www's CNAME, and the addresses www ends at. */
export async function resolveSite(siteDomain: string, serverIpv4: string, resolver: Resolver): Promise<DnsFacts> {
  const apex = siteDomain.replace(/^www\./, '');
  const [apexA, apexAaaa, caa, cname, siteA] = await Promise.all([
    answers(resolver.resolve4(apex)),
    answers(resolver.resolve6(apex)),
    answers(resolver.resolveCaa(apex)),
    answers(resolver.resolveCname(siteDomain)),
    answers(resolver.resolve4(siteDomain)),
  ]);
  const records = [
    ...apexA.map((address) => `${apex} A ${address}`),
    ...apexAaaa.map((address) => `${apex} AAAA ${address}`),
    ...cname.map((target) => `${siteDomain} CNAME ${target}`),
    ...(cname.length === 0 ? siteA.map((address) => `${siteDomain} A ${address}`) : []),
    ...caa.flatMap((record) => (record.issue ? [`${apex} CAA issue "${record.issue}"`] : [])),
  ];
  return { records, health: dnsHealth(siteA, serverIpv4) };
}

/** Whole days until the certificate nginx serves for `siteDomain` expires (negative once it has). */
export function certificateDaysLeft(
  siteDomain: string,
  { host = '127.0.0.1', port = 443, now = Date.now() } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    // Not verified on purpose: the figure is wanted for a local CA's certificate too.
    const socket = tls.connect(
      { host, port, servername: siteDomain, rejectUnauthorized: false, timeout: 3_000 },
      () => {
        const notAfter = Date.parse(socket.getPeerCertificate().valid_to);
        socket.end();
        if (Number.isNaN(notAfter))
          reject(new Error(`nginx on ${host}:${port} served no certificate for ${siteDomain}`));
        else resolve(Math.floor((notAfter - now) / 86_400_000));
      },
    );
    socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake with ${host}:${port} in 3 s`)));
    socket.on('error', reject);
  });
}
