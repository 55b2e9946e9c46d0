import { spawnSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { docker, removeContainer } from '../../scripts/tool/core/docker.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { removeLeftoverStacks, stackProjectName } from '../../scripts/tool/testing/stack.js';

const created: string[] = [];

afterAll(async () => {
  for (const id of created) await removeContainer(id);
});

/** A container carrying compose's project label, as every container of a stack does. */
async function containerOf(project: string): Promise<string> {
  const container = await docker.createContainer({
    Image: imagesOf(process.env).nginxBase,
    Cmd: ['sleep', 'infinity'],
    Labels: { 'com.docker.compose.project': project },
  });
  created.push(container.id);
  return container.id;
}

const exists = (id: string) =>
  docker
    .getContainer(id)
    .inspect()
    .then(() => true)
    .catch(() => false);

it('removes the stacks of runs that died, and leaves those of running processes alone', async () => {
  // A process id that was real and has ended, like a test run killed mid-way.
  const dead = spawnSync('true').pid;
  const deadProject = stackProjectName(dead);
  const liveProject = stackProjectName();
  const leftover = await containerOf(deadProject);
  const running = await containerOf(liveProject);

  const removed = await removeLeftoverStacks();

  expect(removed).toContain(deadProject);
  expect(removed).not.toContain(liveProject);
  expect(await exists(leftover)).toBe(false);
  expect(await exists(running)).toBe(true);
});
