// The site as the world sees it: an HTTPS request to the server's address for the domain,
// verified against the system's CAs (and NODE_EXTRA_CA_CERTS), as a browser would.
import https from 'node:https';

export interface SiteAnswer {
  status: number;
  body: string;
  ms: number;
}

/** GET https://domain/path, connecting to `address` (whatever DNS says), certificate verified. */
export function checkSite(address: string, domain: string, path = '/api/health/ready'): Promise<SiteAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: address, port: 443, path, servername: domain, headers: { host: domain }, timeout: 10_000, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`https://${domain}${path} at ${address}: no answer in 10 s`)));
    req.on('error', (err) => reject(new Error(`https://${domain}${path} at ${address}: ${err.message}`)));
  });
}
