import { inject } from 'vitest';
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
  const stack = await stackOf(shared.project, shared.env);
  await waitUntilHealthy(stack);
  return stack;
}
