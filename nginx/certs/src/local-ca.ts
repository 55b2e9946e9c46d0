// The local CA: a small certificate authority made on first start and kept on the
// certificate volume, so https works at once on a laptop (trust its ca.pem once) and the
// site has a certificate to serve while ACME issuance is still under way.
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertStore, Installed } from './store.js';

type CryptoKey = webcrypto.CryptoKey;

// @peculiar/x509 types its provider as the DOM's Crypto; Node's webcrypto is that API.
x509.cryptoProvider.set(webcrypto as any);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const CA_YEARS = 10;
const DAY_MS = 86_400_000;

const serial = () =>
  randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '7');
const keyPem = async (key: CryptoKey) =>
  x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
const newKeys = () =>
  webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;

interface LocalCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

async function loadOrCreateCa(store: CertStore, label: string): Promise<LocalCa> {
  const [certPem, keyText] = await Promise.all([store.read('local-ca', 'ca.pem'), store.read('local-ca', 'ca.key')]);
  if (certPem && keyText) {
    const key = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyText), ALGORITHM, false, [
      'sign',
    ]);
    return { cert: new x509.X509Certificate(certPem), key };
  }
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=webstack local CA (${label}), O=webstack`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + CA_YEARS * 365 * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await store.write(['local-ca', 'ca.key'], await keyPem(keys.privateKey));
  await store.write(['local-ca', 'ca.pem'], cert.toString('pem'));
  return { cert, key: keys.privateKey };
}

/** A certificate from the local CA for the given DNS names and IP addresses. */
export async function issueLocal(
  store: CertStore,
  names: { dns: string[]; ip: string[] },
  days: number,
): Promise<Installed> {
  const ca = await loadOrCreateCa(store, names.dns[0] ?? 'localhost');
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dns[0]}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY_MS),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return {
    kind: 'local',
    fullchain: `${cert.toString('pem')}\n${ca.cert.toString('pem')}\n`,
    key: await keyPem(keys.privateKey),
  };
}
