// The settings stack.yml takes besides the images and the site: from the deployment file's
// cluster section, then .env or the environment, as docker-compose.yml takes them; and the
// ACME issuer's, as one server's certs service takes them. Pure, so what is taken and what
// is refused is unit-tested.
import { acmeDirectory, loadConfig } from '../../../nginx/certs/src/config.js';

/** The settings stack.yml reads (the others of docker-compose.yml do not apply on a Swarm). */
export const PASSED_THROUGH = [
  'RATE_LIMIT_WRITES',
  'RATE_LIMIT_WRITES_BURST',
  'RATE_LIMIT_READS',
  'RATE_LIMIT_READS_BURST',
  'LOG_LEVEL',
  'DB_POOL_SIZE',
];

/**
 * The variables a deploy passes to stack.yml: the file's settings, each overridden by the
 * environment's; throws naming a file setting stack.yml does not take, never dropping it silently.
 */
export function stackSettings(
  fileSettings: Record<string, string>,
  env: NodeJS.ProcessEnv,
  file = 'the deployment file',
): Record<string, string> {
  const unknown = Object.keys(fileSettings).filter((name) => !PASSED_THROUGH.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `${file}: cluster.settings ${unknown.join(', ')} do not apply on the cluster (stack.yml takes ${PASSED_THROUGH.join(', ')}); remove them from cluster.settings`,
    );
  }
  return Object.fromEntries(
    PASSED_THROUGH.flatMap((name) => {
      const value = env[name] || fileSettings[name];
      return value ? [[name, value]] : [];
    }),
  );
}

/** The certs service's settings the cluster's ACME issuer takes (docs/https.md says what each does). */
export const ACME_SETTINGS = [
  'ACME_DIRECTORY',
  'ACME_EMAIL',
  'ACME_DIRECTORY_CA',
  'HSTS_MAX_AGE',
  'ACME_HTTP_TIMEOUT_SECONDS',
  'ACME_HTTP_RETRIES',
];

/**
 * The issuer's environment (those set, and the site), or undefined when ACME is off (neither
 * ACME_DIRECTORY nor ACME_EMAIL): checked as the certs service checks them, so a bad value
 * is refused here, before anything on the cluster changes.
 */
export function acmeSettings(env: NodeJS.ProcessEnv, siteDomain: string): Record<string, string> | undefined {
  const chosen: Record<string, string> = {
    ...Object.fromEntries(ACME_SETTINGS.flatMap((name) => (env[name] ? [[name, env[name]]] : []))),
    SITE_DOMAIN: siteDomain,
  };
  return acmeDirectory(loadConfig(chosen)) ? chosen : undefined;
}
