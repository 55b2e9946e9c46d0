// The settings stack.yml takes besides the images and the site: from the deployment file's
// cluster section, then .env or the environment, as docker-compose.yml takes them. Pure, so
// what is taken and what is refused is unit-tested.

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
