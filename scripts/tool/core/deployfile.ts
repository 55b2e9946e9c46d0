// The deployment file: one committed file that says what is deployed where (the VPS, the
// cluster's manager, the domain, the app, the settings), never a secret, read by scripts/vps
// and scripts/cluster so that a second run keeps every setting. Flags override it for a run.
// Validated whole at load, each problem named by its key, so a typo never passes silently.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './paths.js';

/** Where the deployment file is unless DEPLOY_FILE names another (relative to the working folder). */
export const DEFAULT_DEPLOY_FILE = `${REPO_ROOT}.deploy.yml`;

/** The app a deployment runs (docs/your-app.md); paths resolved against the file's folder. */
export interface DeployApp {
  dir?: string;
  image?: string;
  migrations?: string;
}

export interface VpsSection {
  host?: string;
  identity?: string;
  domain?: string;
  email?: string;
  ipv4?: string;
  'acme-directory'?: string;
  'acme-ca'?: string;
  caa?: string;
  resolver?: string;
  app?: DeployApp;
  settings: Record<string, string>;
}

export interface ClusterSection {
  manager?: string;
  identity?: string;
  'known-hosts'?: string;
  domain?: string;
  replicas?: number;
  app?: DeployApp;
  settings: Record<string, string>;
}

export interface DeployFile {
  /** The file it was read from, as the user should see it in messages. */
  file: string;
  vps?: VpsSection;
  cluster?: ClusterSection;
}

/** Keys whose value is a path, resolved against the file's folder. */
const PATHS = new Set(['identity', 'acme-ca', 'known-hosts']);
const VPS_KEYS = ['host', 'identity', 'domain', 'email', 'ipv4', 'acme-directory', 'acme-ca', 'caa', 'resolver'];
const CLUSTER_KEYS = ['manager', 'identity', 'known-hosts', 'domain'];
const APP_KEYS = ['dir', 'image', 'migrations'];
/** A setting's name, as .env and docker-compose.yml spell them. */
export const SETTING_NAME = /^[A-Z][A-Z0-9_]*$/;
/** Setting names that hold secrets: they are made on the server, or passed as secrets, never committed. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL/;
const SECRET_VALUE = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

type Problems = string[];

/** A path in the file: against the file's folder, ~/ against the home folder. */
const resolved = (dir: string, given: string) =>
  given.startsWith('~/') ? path.join(homedir(), given.slice(2)) : path.resolve(dir, given);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function text(value: unknown, key: string, problems: Problems): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    problems.push(`${key}: give a single value, not ${Array.isArray(value) ? 'a list' : 'a section'}`);
    return undefined;
  }
  const result = String(value);
  if (SECRET_VALUE.test(result)) {
    problems.push(`${key}: holds a private key; name the key's file instead, the file itself stays out of git`);
  }
  return result;
}

function unknownKeys(section: Record<string, unknown>, allowed: string[], where: string, problems: Problems) {
  for (const key of Object.keys(section)) {
    if (!allowed.includes(key)) problems.push(`${where}.${key}: not a key of ${where} (it has ${allowed.join(', ')})`);
  }
}

function readApp(value: unknown, where: string, dir: string, problems: Problems): DeployApp | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    problems.push(`${where}: give a section with dir (a folder with a Dockerfile) or image, and migrations`);
    return undefined;
  }
  unknownKeys(value, APP_KEYS, where, problems);
  const app: DeployApp = {};
  const folder = text(value.dir, `${where}.dir`, problems);
  const image = text(value.image, `${where}.image`, problems);
  const migrations = text(value.migrations, `${where}.migrations`, problems);
  if (folder && image) {
    problems.push(`${where}: give dir (a folder to build) or image (a ready image), not both`);
  }
  if (folder) app.dir = resolved(dir, folder);
  if (image) app.image = image;
  if (migrations) app.migrations = resolved(dir, migrations);
  if (image && !migrations) {
    problems.push(
      `${where}.migrations: give the folder of the image's SQL migrations (an empty folder if it has none)`,
    );
  }
  return app;
}

function readSettings(value: unknown, where: string, problems: Problems): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    problems.push(`${where}: give KEY: VALUE lines, e.g. RATE_LIMIT_READS: 100r/s`);
    return {};
  }
  const settings: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!SETTING_NAME.test(key)) {
      problems.push(`${where}.${key}: not a setting name (capital letters, digits and _, as in .env)`);
    } else if (SECRET_NAME.test(key)) {
      problems.push(
        `${where}.${key}: a secret has no place in a committed file; leave it out (the passwords are generated where the stack runs)`,
      );
    } else {
      const setting = text(typeof raw === 'boolean' ? String(raw) : raw, `${where}.${key}`, problems);
      if (setting !== undefined) settings[key] = setting;
    }
  }
  return settings;
}

function readSection(
  value: unknown,
  where: 'vps' | 'cluster',
  keys: string[],
  dir: string,
  problems: Problems,
): { fields: Record<string, string>; app?: DeployApp; settings: Record<string, string> } | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    problems.push(`${where}: give a section (${keys.join(', ')}, app, settings)`);
    return undefined;
  }
  const extra = where === 'cluster' ? ['replicas'] : [];
  unknownKeys(value, [...keys, ...extra, 'app', 'settings'], where, problems);
  const section: Record<string, string> = {};
  for (const key of keys) {
    const given = text(value[key], `${where}.${key}`, problems);
    if (given !== undefined) section[key] = PATHS.has(key) ? resolved(dir, given) : given;
  }
  return {
    fields: section,
    app: readApp(value.app, `${where}.app`, dir, problems),
    settings: readSettings(value.settings, `${where}.settings`, problems),
  };
}

/** The file's text checked and read; throws listing every problem, each by its key. */
export function parseDeployFile(source: string, file: string): DeployFile {
  let data: unknown;
  try {
    data = parse(source);
  } catch (err) {
    throw new Error(`${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const problems: Problems = [];
  const dir = path.dirname(path.resolve(file));
  const result: DeployFile = { file };
  if (data !== null && data !== undefined) {
    if (!isRecord(data)) {
      problems.push('the file: give a vps: and/or a cluster: section');
    } else {
      unknownKeys(data, ['vps', 'cluster'], 'the file', problems);
      const vps = readSection(data.vps, 'vps', VPS_KEYS, dir, problems);
      if (vps) result.vps = { ...vps.fields, app: vps.app, settings: vps.settings };
      const cluster = readSection(data.cluster, 'cluster', CLUSTER_KEYS, dir, problems);
      if (cluster) {
        const { replicas } = data.cluster as Record<string, unknown>;
        if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1)) {
          problems.push(`cluster.replicas: give a whole number of at least 1, not ${JSON.stringify(replicas)}`);
        }
        result.cluster = {
          ...cluster.fields,
          app: cluster.app,
          settings: cluster.settings,
          ...(typeof replicas === 'number' ? { replicas } : {}),
        };
      }
    }
  }
  if (problems.length > 0) {
    throw new Error(`${file} has problems, nothing was done:\n  - ${problems.join('\n  - ')}`);
  }
  return result;
}

/**
 * The deployment file: DEPLOY_FILE's (which must exist), else the repo's .deploy.yml when
 * there is one, else none (every setting then comes from flags, as before).
 */
export function loadDeployFile(env: NodeJS.ProcessEnv = process.env): DeployFile | undefined {
  const named = env.DEPLOY_FILE;
  if (named && !existsSync(named)) {
    throw new Error(`DEPLOY_FILE=${named}: no such file; write it (see examples/deploy.yml) or unset DEPLOY_FILE`);
  }
  const file = named || DEFAULT_DEPLOY_FILE;
  if (!existsSync(file)) return undefined;
  return parseDeployFile(readFileSync(file, 'utf8'), named || '.deploy.yml');
}

/**
 * The app a section chooses as the environment names it (APP_DIR, APP_IMAGE, APP_MIGRATIONS),
 * over `env`: the process environment (or .env) wins where it names the app itself.
 */
export function appEnv(app: DeployApp | undefined, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!app || env.APP_DIR || env.APP_IMAGE) return env;
  return {
    ...env,
    ...(app.dir ? { APP_DIR: app.dir } : {}),
    ...(app.image ? { APP_IMAGE: app.image } : {}),
    ...(app.migrations && !env.APP_MIGRATIONS ? { APP_MIGRATIONS: app.migrations } : {}),
  };
}
