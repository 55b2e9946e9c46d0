// ACME (RFC 8555) issuance through acme-client, answering HTTP-01 from the webroot nginx
// serves at /.well-known/acme-challenge/ on port 80. The protocol is the library's.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { Logger } from 'pino';
import { challengeDir } from './probe.js';
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

/**
 * How acme-client's shared axios instance talks to the directory: with a time limit (a CA
 * that vanished would otherwise hold an attempt for minutes of TCP retries), how often
 * acme-client repeats a request that got no answer, and trusting
 * an extra CA for the directory's own HTTPS when one is given (a test CA such as Pebble).
 */
export function configureDirectoryHttp(timeoutMs: number, retries: number, extraCa?: string): void {
  acme.axios.defaults.timeout = timeoutMs;
  // acme-client retries a request that got no answer (or 429/503) with growing pauses.
  (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings!.retryMaxAttempts = retries;
  if (extraCa) acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...rootCertificates, extraCa] });
}

const accountId = (directoryUrl: string) => createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16);

/** The account key for this directory: made once, kept on the volume (mode 600). */
async function accountKey(store: CertStore, directoryUrl: string): Promise<Buffer> {
  const id = accountId(directoryUrl);
  const existing = await store.read('accounts', `${id}.key`);
  if (existing) return Buffer.from(existing);
  const key = await acme.crypto.createPrivateEcdsaKey();
  await store.write(['accounts', `${id}.key`], key.toString());
  await store.write(['accounts', `${id}.directory`], `${directoryUrl}\n`);
  return key;
}

/**
 * A client logged in to its account. The account URL is kept beside the key: asking the CA
 * to "create" an existing account makes acme-client send an empty update, which RFC 8555
 * CAs may refuse. A URL the CA no longer knows (a test CA restarted) is looked up again.
 */
async function accountClient(store: CertStore, request: AcmeRequest, log: Logger): Promise<acme.Client> {
  const id = accountId(request.directoryUrl);
  const key = await accountKey(store, request.directoryUrl);
  const storedUrl = (await store.read('accounts', `${id}.url`))?.trim();
  if (storedUrl) {
    const client = new acme.Client({ directoryUrl: request.directoryUrl, accountKey: key, accountUrl: storedUrl });
    try {
      await client.updateAccount();
      return client;
    } catch (err) {
      // No answer at all (the CA is down) is not a reason to register again.
      if ((err as { isAxiosError?: boolean }).isAxiosError) throw err;
      log.warn(
        { step: 'account', reason: (err as Error).message },
        'the CA does not know the stored account URL; looking the account up',
      );
    }
  }
  const client = new acme.Client({ directoryUrl: request.directoryUrl, accountKey: key });
  try {
    await client.createAccount({ onlyReturnExisting: true });
  } catch {
    const contact = request.email ? [`mailto:${request.email}`] : undefined;
    await client.createAccount({ termsOfServiceAgreed: true, ...(contact ? { contact } : {}) });
    log.info({ step: 'account', url: client.getAccountUrl() }, 'ACME account registered');
  }
  await store.write(['accounts', `${id}.url`], `${client.getAccountUrl()}\n`);
  return client;
}

export async function issueAcme(store: CertStore, request: AcmeRequest, log: Logger): Promise<Installed> {
  const client = await accountClient(store, request, log);
  const [key, csr] = await acme.crypto.createCsr(
    { commonName: request.names[0], altNames: request.names },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const dir = challengeDir(request.webroot);
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
      await mkdir(dir, { recursive: true, mode: 0o755 });
      // World-readable: nginx's workers (another user) serve it.
      await writeFile(join(dir, challenge.token), keyAuthorization, { mode: 0o644 });
      log.info({ step: 'challenge', name: authz.identifier.value, token: challenge.token }, 'HTTP-01 answer in place');
    },
    challengeRemoveFn: async (authz, challenge) => {
      await rm(join(dir, challenge.token), { force: true });
      log.info({ step: 'challenge-done', name: authz.identifier.value }, 'HTTP-01 answer removed');
    },
  });
  return { kind: 'acme', fullchain, key: key.toString() };
}
