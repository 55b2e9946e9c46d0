// What a certificate says about itself, and when it is due for renewal.
import { X509Certificate } from 'node:crypto';

export interface CertInfo {
  names: string[];
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Two thirds into its lifetime, so short-lived certificates renew in time too. */
  renewAt: Date;
  fingerprint: string;
}

/** The share of a certificate's lifetime after which it is renewed. */
export const RENEW_AT_FRACTION = 2 / 3;

export function certInfo(pem: string | Buffer): CertInfo {
  const cert = new X509Certificate(pem);
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
  return {
    names,
    subject: (cert.subject ?? '').replaceAll('\n', ', '),
    issuer: (cert.issuer ?? '').replaceAll('\n', ', '),
    notBefore,
    notAfter,
    renewAt: new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * RENEW_AT_FRACTION),
    fingerprint: cert.fingerprint256,
  };
}

/** Why a certificate must be replaced now (a name it lacks, or two thirds of its life gone), or undefined. */
export function replaceReason(pem: string | Buffer, wanted: string[], now = new Date()): string | undefined {
  const info = certInfo(pem);
  const missing = wanted.filter((name) => !info.names.includes(name));
  if (missing.length > 0) return `the certificate does not cover ${missing.join(', ')}`;
  if (now >= info.renewAt) return `two thirds of its lifetime passed (${info.renewAt.toISOString()})`;
  return undefined;
}
