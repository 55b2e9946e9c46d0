// scripts/cert status: the certificate nginx serves right now (read from a TLS handshake
// with the published port, as a browser sees it) and the certs service's own state.
import tls from 'node:tls';
import { certInfo } from '../../../nginx/certs/src/cert-info.js';
import type { StackTarget } from '../core/compose.js';
import { execIn, findServiceContainer, publishedPort } from '../core/docker.js';

export async function servedCertificate(port: number, servername: string, address = '127.0.0.1') {
  return new Promise<ReturnType<typeof certInfo>>((resolve, reject) => {
    // Not verified here on purpose: the point is to show whatever is served, trusted or not.
    const socket = tls.connect({ host: address, port, servername, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error(`${address}:${port} presented no certificate`));
      else resolve(certInfo(cert.raw));
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no TLS handshake with ${address}:${port} in 5 s`)));
    socket.on('error', reject);
  });
}

export async function certStatus(target: StackTarget, siteDomain: string): Promise<string> {
  const [server, certs] = await Promise.all(
    ['server', 'certs'].map((service) => findServiceContainer(target.project, service, { runningOnly: true })),
  );
  if (!server || !certs) throw new Error(`the stack "${target.project}" is not running: is it up (scripts/up)?`);
  const port = await publishedPort(server, 443);
  const served = await servedCertificate(port, siteDomain);
  const state = (await execIn(certs, ['cat', '/certs/state.json'])).stdout;
  const parsed = state ? (JSON.parse(state) as Record<string, unknown>) : {};
  const days = (served.notAfter.getTime() - Date.now()) / 86_400_000;
  return [
    `served on 127.0.0.1:${port} for ${siteDomain}:`,
    `  names:         ${served.names.join(', ')}`,
    `  issuer:        ${served.issuer}`,
    `  valid:         ${served.notBefore.toISOString()} to ${served.notAfter.toISOString()} (${days.toFixed(1)} days left)`,
    `  next renewal:  ${served.renewAt.toISOString()} (two thirds of its lifetime)`,
    `  sha-256:       ${served.fingerprint}`,
    `certs service:   mode ${String(parsed.mode ?? 'unknown')}, ${String(parsed.failures ?? 0)} failed attempts in a row`,
    ...(parsed.lastError ? [`  last error:    ${String(parsed.lastError)}`] : []),
    ...(parsed.nextAttempt ? [`  next attempt:  ${String(parsed.nextAttempt)}`] : []),
    ...(parsed.lastIssued ? [`  last issued:   ${String(parsed.lastIssued)}`] : []),
  ].join('\n');
}
