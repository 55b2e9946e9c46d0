import { defineConfig } from 'vitest/config';

// The stack's own images are built and run under this tag (webstack/app:test by default).
process.env.IMAGE_TAG ??= 'test';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The example consumer project runs on its own, from the packed package (scripts/test).
    exclude: ['test/consumer/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { IMAGE_TAG: process.env.IMAGE_TAG },
    // Container tests share 2 cores and one Docker engine: one file at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', ['json', { outputFile: 'test/results/vitest.json' }]],
  },
});
