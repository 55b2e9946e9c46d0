import { inject } from 'vitest';
import { docker } from '../../scripts/tool/core/docker.js';
import { sleep } from '../../scripts/tool/core/wait.js';
import { stackOf, waitUntilHealthy, type Stack } from '../../scripts/tool/testing/stack.js';

/** What the shared stack's global setup hands the test files: enough to rebuild a handle. */
export interface SharedStack {
  project: string;
  env: Record<string, string>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sharedStack: SharedStack;
  }
}

/**
 * The run's shared default stack (compose defaults, no rate limits), healthy. Files that use
 * it run one after another; each brings the data it needs, and whatever part it stops or
 * crashes is back and healthy before its test ends. Never stop() it: the run removes it.
 */
export async function sharedStack(): Promise<Stack> {
  const shared = inject('sharedStack') as SharedStack | undefined;
  if (!shared) throw new Error('no shared stack: list this file in the shared-stack project of test/vitest.config.ts');
  await setPaused(shared.project, false);
  const stack = await stackOf(shared.project, shared.env);
  await waitUntilHealthy(stack);
  return stack;
}

/**
 * Pauses (or resumes) the shared stack's containers. It is paused whenever no file uses it,
 * from its start to the first file and after each file (test/support/shared-stack-file.ts):
 * a paused container's health checks do not run, and an idle stack's checks cost the other
 * lanes a sixth of a core.
 */
export async function setPaused(project: string, paused: boolean): Promise<void> {
  const containers = await docker.listContainers({
    filters: { label: [`com.docker.compose.project=${project}`], status: [paused ? 'running' : 'paused'] },
  });
  await Promise.all(containers.map((c) => (paused ? pause(c.Id) : docker.getContainer(c.Id).unpause())));
}

/**
 * Pausing only saves CPU, so a container that will not freeze stays running. The kernel's
 * freezer can give up while a process sits in an uninterruptible wait (MariaDB's fsync on a
 * busy disk): runc then answers "unable to freeze" and leaves it running. Tried three times.
 */
async function pause(id: string): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await docker.getContainer(id).pause();
    } catch (error) {
      if (!/unable to freeze/.test((error as Error).message)) throw error;
      if (attempt === 3)
        process.stderr.write(`shared stack: ${id.slice(0, 12)} left running (${(error as Error).message})\n`);
      else await sleep(1_000);
    }
  }
}
