import { configDefaults, defineConfig } from 'vitest/config';

// The stack's own images are built and run under this tag (webstack/app:test by default).
process.env.IMAGE_TAG ??= 'test';

// scripts/test runs lanes side by side to keep the suite short on 2 cores, each named after
// its longest file and evened out by the times the lanes took: "edge" holds the simulated VPS
// and the outside client's look at a stack published on every address, the swapped app's and
// the "Make it yours" page's stacks; "cluster" the simulated Swarm, fault injection and the
// drill (the fault drills of both scales); "offsite" the off-site backups and their disaster
// drill, then the ACME suite and the Gunicorn example; "local" everything else. Without
// TEST_LANE (npm test) every file runs in one lane. The example consumer project
// (test/consumer) runs on its own, from the packed package, after the offsite lane.
const lanes: Record<string, string[]> = {
  edge: [
    'test/vps/vps.test.ts',
    'test/exposure/*.test.ts',
    'test/examples/swapped-app.test.ts',
    'test/https/site-domain.test.ts',
    'test/docs/make-it-yours.test.ts',
  ],
  cluster: ['test/cluster/*.test.ts', 'test/faults/*.test.ts', 'test/ops/drill.test.ts'],
  // Mostly waiting on a schedule, on machines and on the ACME CA.
  offsite: ['test/vps/backups.test.ts', 'test/https/acme.test.ts', 'test/examples/gunicorn.test.ts'],
};
const lane = process.env.TEST_LANE;
if (lane !== undefined && lane !== 'local' && !(lane in lanes)) {
  throw new Error(`TEST_LANE must be one of local, ${Object.keys(lanes).join(', ')}; not "${lane}"`);
}
const own = lane === undefined || lane === 'local' ? undefined : lanes[lane];

// Local files that need only a running default stack (compose's defaults, no rate limits)
// and leave it as they found it: they share one, which the shared-stack project's global
// setup starts once and removes at the end, instead of a stack start (about 16 s alone, a
// minute beside the other lanes) each. Files that take a stack down, recreate, deploy to or
// reconfigure it keep their own.
const sharedStackFiles = own
  ? []
  : [
      'test/stack/stack.test.ts',
      'test/stack/observability.test.ts',
      'test/browser/status-page.test.ts',
      'test/browser/xss.test.ts',
      'test/hostile/corpus.test.ts',
      'test/logs/logs.test.ts',
    ];
const buildImages = 'test/support/global-setup.ts';

export default defineConfig({
  test: {
    env: { IMAGE_TAG: process.env.IMAGE_TAG },
    // Container tests share 2 cores and one Docker engine: one file at a time within a lane
    // (across both projects too).
    fileParallelism: false,
    // A guard against hangs, not a speed bound: with three lanes on 2 cores, the longest
    // local tests (a deploy, a deploy and a rollback under load) took 107-119 s and met
    // vitest's 120 s. Tests bound their own loops; a test that needs longer says so.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // expect.poll's own default is 1 s: a page's script fetching through nginx while three
    // lanes load 2 cores took longer (a browser test failed so, with the page right after).
    expect: { poll: { timeout: 30_000 } },
    reporters: ['default', ['json', { outputFile: `test/results/vitest${lane ? `-${lane}` : ''}.json` }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'standalone',
          include: own ?? ['test/**/*.test.ts'],
          exclude: [
            ...configDefaults.exclude,
            'test/consumer/**',
            ...(lane === 'local' ? Object.values(lanes).flat() : []),
            ...sharedStackFiles,
          ],
          globalSetup: [buildImages],
        },
      },
      ...(sharedStackFiles.length === 0
        ? []
        : [
            {
              extends: true,
              test: {
                name: 'shared-stack',
                include: sharedStackFiles,
                globalSetup: [buildImages, 'test/support/shared-stack-setup.ts'],
                setupFiles: ['test/support/shared-stack-file.ts'],
              },
            },
          ]),
    ],
  },
});
