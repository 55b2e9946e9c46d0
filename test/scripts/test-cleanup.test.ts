// scripts/test's clean-up removes only what test runs of this checkout labelled: its own run's
// and earlier runs' whose process is gone; another project's testcontainers, another
// checkout's tests and a live run's resources stay.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { imagesOf, loadEnv } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

const run = promisify(execFile);
const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim();
// A checkout of its own, as the clean-up names it (symbolic links resolved): the clean-up also
// takes down every test stack whose compose file lies in its checkout, and in this one the
// run's shared stack and the other lanes' stacks are running.
const REPO = realpathSync(mkdtempSync(path.join(tmpdir(), 'webstack-cleanup-test-')));
const RUN = `${process.pid}-${Date.now()}`;
const created: { kind: 'container' | 'network' | 'volume'; id: string }[] = [];

const labels = (pairs: Record<string, string>) => Object.entries(pairs).flatMap(([k, v]) => ['--label', `${k}=${v}`]);

async function container(pairs: Record<string, string>): Promise<string> {
  const id = await docker('create', ...labels(pairs), imagesOf(loadEnv()).nginxBase, 'sleep', 'infinity');
  created.push({ kind: 'container', id });
  return id;
}

async function other(kind: 'network' | 'volume', pairs: Record<string, string>): Promise<string> {
  const name = `webstack-cleanup-test-${kind}-${created.length}-${process.pid}`;
  await docker(kind, 'create', ...labels(pairs), name);
  created.push({ kind, id: name });
  return name;
}

const exists = (kind: string, id: string) =>
  docker(kind, 'inspect', id).then(
    () => true,
    () => false,
  );

/** A process id that existed and is gone: an earlier run's. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

afterAll(async () => {
  for (const { kind, id } of created.reverse()) {
    if (await exists(kind, id)) await docker(kind, 'rm', ...(kind === 'container' ? ['-f', '-v'] : []), id);
  }
  rmSync(REPO, { recursive: true, force: true });
});

describe("scripts/test's clean-up", () => {
  it("removes this run's and finished runs' resources of this checkout, and nothing else", async () => {
    const mine = { 'org.webstack.test-repo': REPO, 'org.webstack.test-run': RUN };
    const finished = { 'org.webstack.test-repo': REPO, 'org.webstack.test-run': `${await deadPid()}-1` };
    const keep = {
      foreign: await container({ 'org.testcontainers': 'true', 'org.testcontainers.sessionId': 'someone-else' }),
      otherCheckout: await container({ 'org.webstack.test-repo': '/elsewhere/webstack', 'org.webstack.test-run': RUN }),
      liveRun: await container({ 'org.webstack.test-repo': REPO, 'org.webstack.test-run': `${process.pid}-1` }),
      unlabelled: await container({}),
      foreignNetwork: await other('network', { 'org.testcontainers': 'true' }),
      foreignVolume: await other('volume', { 'org.testcontainers': 'true' }),
    };
    const remove = {
      own: await container(mine),
      ownNetwork: await other('network', mine),
      ownVolume: await other('volume', mine),
      finished: await container(finished),
      finishedVolume: await other('volume', finished),
    };
    await run(
      'bash',
      ['-c', 'source scripts/lib/test-cleanup.sh && remove_test_resources "$1" "$2"', 'bash', REPO, RUN],
      {
        cwd: REPO_ROOT,
      },
    );
    const kindOf = (name: string) =>
      name.includes('Network') ? 'network' : name.includes('Volume') ? 'volume' : 'container';
    for (const [name, id] of Object.entries(keep)) expect(await exists(kindOf(name), id), name).toBe(true);
    for (const [name, id] of Object.entries(remove)) expect(await exists(kindOf(name), id), name).toBe(false);
  });
});
