import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Starting the stack takes a while the first time: images are built when missing.
    hookTimeout: 600_000,
    testTimeout: 60_000,
    // Each file starts a stack of its own: one at a time, as the images they build are shared.
    fileParallelism: false,
  },
});
