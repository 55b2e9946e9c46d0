// The non-secret half of the server's .env, made here (the passwords are made there).
// Pure, so the format is unit-tested.
import { SETTING_NAME, type VpsSection } from '../core/deployfile.js';
import type { Images } from '../core/env.js';
import { BACKUP_COMPOSE_FILE, COMPOSE_FILES, PROJECT } from './server.js';

export interface SiteSettings {
  domain: string;
  email?: string;
  /** ACME directory: letsencrypt (default with an email), letsencrypt-staging or a URL. */
  acmeDirectory?: string;
  /** PEM of the CA that signs the ACME directory's own HTTPS (a private ACME server). */
  acmeDirectoryCa?: string;
  caaIdentity?: string;
  /** Resolver host[:port] the certs service checks DNS through before ordering. */
  dnsResolver?: string;
  serverIpv4: string;
  /** Any other stack setting (docker-compose.yml's variables), from --set KEY=VALUE. */
  extra?: Record<string, string>;
}

const SECRETS = new Set(['MYSQL_ROOT_PASSWORD', 'MYSQL_PASSWORD']);

/** One .env line as compose reads it; multi-line values (a PEM) double-quoted with \n. */
export function envLine(key: string, value: string): string {
  if (!SETTING_NAME.test(key)) throw new Error(`"${key}" is not a setting name (capital letters, digits and _)`);
  if (/["\\$'`]/.test(value)) throw new Error(`${key}: quotes, backslashes and $ are not allowed in a setting's value`);
  if (/[\s#]/.test(value) || value.includes('\n')) return `${key}="${value.replace(/\r?\n/g, '\\n')}"`;
  return `${key}=${value}`;
}

/** Parses --set KEY=VALUE options; the passwords cannot be set (they are made on the server). */
export function parseSets(sets: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const set of sets) {
    const at = set.indexOf('=');
    const key = at < 0 ? set : set.slice(0, at);
    if (at < 0 || !SETTING_NAME.test(key))
      throw new Error(`--set ${set}: give KEY=VALUE, e.g. --set RATE_LIMIT_READS=100r/s`);
    if (SECRETS.has(key))
      throw new Error(`--set ${key}: the database passwords are generated on the server and stay there`);
    result[key] = set.slice(at + 1);
  }
  return result;
}

/** The settings lines of the server's .env, in a fixed order (so an unchanged run compares equal). */
export function envSettings(settings: SiteSettings, images: Images): string {
  const entries: Array<[string, string | undefined]> = [
    ['COMPOSE_PROJECT_NAME', PROJECT],
    // The backup service runs only where a target is named.
    ['COMPOSE_FILE', [...COMPOSE_FILES, ...(settings.extra?.BACKUP_REPOSITORY ? [BACKUP_COMPOSE_FILE] : [])].join(':')],
    ['IMAGE_TAG', images.tag],
    ['MYSQL_IMAGE', images.mysql],
    ['NGINX_IMAGE', images.nginxBase],
    ['NODE_IMAGE', images.nodeBase],
    ['SITE_DOMAIN', settings.domain],
    ['ACME_EMAIL', settings.email],
    ['ACME_DIRECTORY', settings.acmeDirectory],
    ['ACME_DIRECTORY_CA', settings.acmeDirectoryCa?.trim()],
    ['ACME_CAA_IDENTITY', settings.caaIdentity],
    ['DNS_RESOLVER', settings.dnsResolver],
    ['SERVER_IPV4', settings.serverIpv4],
    ...Object.entries(settings.extra ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  ];
  return entries
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(([key, value]) => envLine(key, value))
    .join('\n');
}

/** What scripts/vps setup takes from flags: the deployment file's vps keys of the same names, and --set. */
export type SetupFlags = Omit<VpsSection, 'host' | 'identity' | 'app' | 'settings'> & { set?: string[] };

/**
 * The settings of one setup run: the deployment file's vps section with each flag given
 * overriding it, --set per setting. Throws, saying what to do, when no domain is named.
 */
export function setupSettings(
  file: VpsSection | undefined,
  flags: SetupFlags,
): Omit<SetupFlags, 'set' | 'domain'> & { domain: string; extra: Record<string, string> } {
  const pick = (key: Exclude<keyof SetupFlags, 'set'>) => flags[key] ?? file?.[key];
  const domain = pick('domain');
  if (!domain) throw new Error("give --domain www.example.com, or domain: in the deployment file's vps section");
  if (!pick('email') && !pick('acme-directory')) {
    throw new Error(
      "give --email you@example.com, or email: in the deployment file's vps section (Let's Encrypt writes there about expiring certificates)",
    );
  }
  return {
    domain,
    email: pick('email'),
    ipv4: pick('ipv4'),
    'acme-directory': pick('acme-directory'),
    'acme-ca': pick('acme-ca'),
    caa: pick('caa'),
    resolver: pick('resolver'),
    extra: { ...file?.settings, ...parseSets(flags.set ?? []) },
  };
}

/** The deployment file's vps keys for the .env settings setup writes from them (the rest go under vps.settings). */
const FILE_KEYS: Record<string, string> = {
  SITE_DOMAIN: 'domain',
  ACME_EMAIL: 'email',
  ACME_DIRECTORY: 'acme-directory',
  ACME_DIRECTORY_CA: 'acme-ca',
  ACME_CAA_IDENTITY: 'caa',
  DNS_RESOLVER: 'resolver',
};

/** What setup says of settings an earlier run wrote and this one no longer names: removed, and how to keep each. */
export function droppedSettings(names: string[], file = 'the deployment file (.deploy.yml)'): string {
  const keys = names.map((name) => (FILE_KEYS[name] ? `vps.${FILE_KEYS[name]}` : `vps.settings.${name}`));
  return `removed: ${names.join(', ')} (set by an earlier setup, now in neither ${file} nor the flags); to keep ${names.length === 1 ? 'it' : 'them'}, add ${keys.join(', ')} to ${file}`;
}
