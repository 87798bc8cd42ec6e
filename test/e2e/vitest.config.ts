import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { sourceCondition } from '../../vitest.config.js';

// The end-to-end suite alone (`npm run test:e2e`): its files end in .e2e.ts, which the main config's
// `test/**/*.test.ts` never matches. It builds images and runs a k3s cluster, so it gets long limits.
export default defineConfig({
  plugins: [sourceCondition],
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 45 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
