import { defaultServerConditions, type Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * `#contract/*` (package.json `imports`) resolves to the TypeScript sources under the `source`
 * condition and to the compiled dist/ otherwise. Every Vite environment gets it (the test files'
 * and the global setup's), so tests run the sources they import, not the last build.
 */
export const sourceCondition: Plugin = {
  name: 'source-condition',
  configEnvironment: () => ({ resolve: { conditions: ['source', ...defaultServerConditions] } }),
};

export default defineConfig({
  plugins: [sourceCondition],
  test: {
    include: ['contract/**/*.test.ts', 'runtime/**/*.test.ts', 'operator/**/*.test.ts', 'router/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration suites start real servers and a real control plane on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['test/support/build.ts'],
    pool: 'forks',
    fileParallelism: false,
  },
});
