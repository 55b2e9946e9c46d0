// ACME (RFC 8555) issuance through acme-client, answering HTTP-01 from the webroot nginx
// serves at /.well-known/acme-challenge/ on port 80. The protocol is the library's.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { Logger } from 'pino';
import type { CertStore, Installed } from './store.js';

export interface AcmeRequest {
  directoryUrl: string;
  email?: string;
  names: string[];
  /** Folder nginx serves as /.well-known/acme-challenge/. */
  webroot: string;
  /** Extra CA (PEM) trusted for the directory's own TLS, e.g. a test CA's. */
  directoryCa?: string;
}

/** Trust an extra CA for the ACME directory's HTTPS (acme-client's shared axios instance). */
export function trustDirectoryCa(pem: string): void {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...rootCertificates, pem], keepAlive: false });
}

/** The account key for this directory: made once, kept on the volume (mode 600). */
async function accountKey(store: CertStore, directoryUrl: string): Promise<Buffer> {
  const id = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16);
  const existing = await store.read('accounts', `${id}.key`);
  if (existing) return Buffer.from(existing);
  const key = await acme.crypto.createPrivateEcdsaKey();
  await store.write(['accounts', `${id}.key`], key.toString());
  await store.write(['accounts', `${id}.directory`], `${directoryUrl}\n`);
  return key;
}

export async function issueAcme(store: CertStore, request: AcmeRequest, log: Logger): Promise<Installed> {
  const client = new acme.Client({
    directoryUrl: request.directoryUrl,
    accountKey: await accountKey(store, request.directoryUrl),
  });
  const [key, csr] = await acme.crypto.createCsr(
    { commonName: request.names[0], altNames: request.names },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const challengeDir = join(request.webroot, '.well-known', 'acme-challenge');
  log.info({ step: 'order', names: request.names, directory: request.directoryUrl }, 'placing an ACME order');
  const fullchain = await client.auto({
    csr,
    email: request.email,
    termsOfServiceAgreed: true,
    challengePriority: ['http-01'],
    // The library's own pre-check would resolve the names with the system resolver and
    // fetch them from outside; the DNS check and the local webroot probe replace it.
    skipChallengeVerification: true,
    challengeCreateFn: async (authz, challenge, keyAuthorization) => {
      if (challenge.type !== 'http-01') throw new Error(`unexpected challenge type ${challenge.type}`);
      await mkdir(challengeDir, { recursive: true, mode: 0o755 });
      // World-readable: nginx's workers (another user) serve it.
      await writeFile(join(challengeDir, challenge.token), keyAuthorization, { mode: 0o644 });
      log.info({ step: 'challenge', name: authz.identifier.value, token: challenge.token }, 'HTTP-01 answer in place');
    },
    challengeRemoveFn: async (authz, challenge) => {
      await rm(join(challengeDir, challenge.token), { force: true });
      log.info({ step: 'challenge-done', name: authz.identifier.value }, 'HTTP-01 answer removed');
    },
  });
  return { kind: 'acme', fullchain, key: key.toString() };
}
