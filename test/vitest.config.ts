import { configDefaults, defineConfig } from 'vitest/config';

// The stack's own images are built and run under this tag (webstack/app:test by default).
process.env.IMAGE_TAG ??= 'test';

// scripts/test runs two lanes side by side to keep the suite short on 2 cores: "remote" holds
// the suites that spend most of their time waiting on machines of their own (the ACME
// environment, fault injection, the simulated VPS and cluster), "local" everything else.
// Without TEST_LANE (npm test) every file runs in one lane.
// The example consumer project (test/consumer) runs on its own, from the packed package.
const remoteLane = ['test/https/**', 'test/faults/**', 'test/vps/**', 'test/cluster/**'];
const lane = process.env.TEST_LANE;
if (lane !== undefined && lane !== 'local' && lane !== 'remote') {
  throw new Error(`TEST_LANE must be "local" or "remote", not "${lane}"`);
}

export default defineConfig({
  test: {
    include: lane === 'remote' ? remoteLane.map((dir) => `${dir}/*.test.ts`) : ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/consumer/**', ...(lane === 'local' ? remoteLane : [])],
    globalSetup: ['test/support/global-setup.ts'],
    env: { IMAGE_TAG: process.env.IMAGE_TAG },
    // Container tests share 2 cores and one Docker engine: one file at a time within a lane.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', ['json', { outputFile: `test/results/vitest${lane ? `-${lane}` : ''}.json` }]],
  },
});
