import { isIPv4, isIPv6 } from 'node:net';
import { envSchema } from 'env-schema';
import { siteNames } from './domain.js';

/** Everything the certificate manager reads from its environment, validated once at start. */
export interface Config {
  SITE_DOMAIN: string;
  CERTS_DIR: string;
  ACME_WEBROOT: string;
  /** Empty: local certificates only. "letsencrypt", "letsencrypt-staging" or a directory URL. */
  ACME_DIRECTORY: string;
  ACME_EMAIL: string;
  /** PEM of an extra CA for the directory's own HTTPS (a test CA such as Pebble's). */
  ACME_DIRECTORY_CA: string;
  ACME_CAA_IDENTITY: string;
  DNS_RESOLVER: string;
  SERVER_IPV4: string;
  SERVER_IPV6: string;
  HSTS_MAX_AGE: number;
  ACME_RETRY_MIN_SECONDS: number;
  ACME_RETRY_MAX_SECONDS: number;
  ACME_HTTP_TIMEOUT_SECONDS: number;
  ACME_HTTP_RETRIES: number;
  LOCAL_CERT_DAYS: number;
  /** Where nginx answers plain HTTP in this namespace, for the webroot probe before an order. */
  PROBE_URL: string;
  /** The cluster's issuer (issue.ts): the port it answers HTTP-01 on, behind every edge's nginx. */
  ISSUER_PORT: number;
  /** The cluster's issuer: the DNS name of every edge nginx task, each probed before an order. */
  EDGE_TASKS: string;
  LOG_LEVEL: string;
}

const schema = {
  type: 'object',
  properties: {
    SITE_DOMAIN: { type: 'string', default: 'www.foobar.com' },
    CERTS_DIR: { type: 'string', minLength: 1, default: '/certs' },
    ACME_WEBROOT: { type: 'string', minLength: 1, default: '/acme-challenge' },
    ACME_DIRECTORY: { type: 'string', pattern: '^$|^letsencrypt(-staging)?$|^https://', default: '' },
    ACME_EMAIL: { type: 'string', pattern: '^$|^[^@\\s]+@[^@\\s]+$', default: '' },
    ACME_DIRECTORY_CA: { type: 'string', pattern: '^$|-----BEGIN CERTIFICATE-----', default: '' },
    ACME_CAA_IDENTITY: { type: 'string', pattern: '^[A-Za-z0-9.-]+$', default: 'letsencrypt.org' },
    DNS_RESOLVER: { type: 'string', default: '' },
    SERVER_IPV4: { type: 'string', default: '' },
    SERVER_IPV6: { type: 'string', default: '' },
    HSTS_MAX_AGE: { type: 'integer', minimum: 0, default: 31536000 },
    // Let's Encrypt allows 5 failed validations per name per hour: the first retry comes
    // after 5 minutes and each next one waits twice as long, up to 6 hours.
    ACME_RETRY_MIN_SECONDS: { type: 'integer', minimum: 1, default: 300 },
    ACME_RETRY_MAX_SECONDS: { type: 'integer', minimum: 1, default: 21600 },
    ACME_HTTP_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, default: 30 },
    // acme-client's own default: five more tries of a request the CA did not answer.
    ACME_HTTP_RETRIES: { type: 'integer', minimum: 0, maximum: 10, default: 5 },
    LOCAL_CERT_DAYS: { type: 'integer', minimum: 1, maximum: 397, default: 90 },
    PROBE_URL: { type: 'string', pattern: '^http://', default: 'http://127.0.0.1:80' },
    ISSUER_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8080 },
    EDGE_TASKS: { type: 'string', default: '' },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
  },
} as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = envSchema<Config>({ schema, data: env, dotenv: false });
  siteNames(config.SITE_DOMAIN);
  if (config.SERVER_IPV4 && !isIPv4(config.SERVER_IPV4))
    throw new Error(`SERVER_IPV4 must be an IPv4 address, not "${config.SERVER_IPV4}"`);
  if (config.SERVER_IPV6 && !isIPv6(config.SERVER_IPV6))
    throw new Error(`SERVER_IPV6 must be an IPv6 address, not "${config.SERVER_IPV6}"`);
  if (config.ACME_RETRY_MAX_SECONDS < config.ACME_RETRY_MIN_SECONDS)
    throw new Error('ACME_RETRY_MAX_SECONDS must be at least ACME_RETRY_MIN_SECONDS');
  return config;
}

const DIRECTORIES: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

/** The ACME directory URL, or undefined when only local certificates are wanted. */
export function acmeDirectory(config: Config): string | undefined {
  const chosen = config.ACME_DIRECTORY || (config.ACME_EMAIL ? 'letsencrypt' : '');
  return chosen ? (DIRECTORIES[chosen] ?? chosen) : undefined;
}
