import type { TestProject } from 'vitest/node';
import { startStack } from '../../scripts/tool/testing/stack.js';
import { setPaused, type SharedStack } from './shared-stack.js';

// The files of the shared-stack project (test/vitest.config.ts) each need a running default
// stack, not one of their own: one is started for them all and removed once the run ends.
// A file gets its handle with sharedStack().
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startStack();
  process.stdout.write(`shared stack ${stack.project} up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const env = Object.fromEntries(Object.entries(stack.env).filter((e): e is [string, string] => e[1] !== undefined));
  project.provide('sharedStack', { project: stack.project, env } satisfies SharedStack);
  await setPaused(stack.project, true);
  return async () => {
    await setPaused(stack.project, false);
    await stack.stop();
  };
}
