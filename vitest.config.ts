import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['runtime/**/*.test.ts', 'operator/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration suites start real servers and a real control plane on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['test/support/build.ts'],
    pool: 'forks',
    fileParallelism: false,
  },
});
