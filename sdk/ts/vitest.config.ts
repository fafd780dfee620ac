import { defineConfig } from 'vitest/config';

// The tests run against a real `herald serve --emulate`, built once by the
// global setup (or taken from HERALD_BIN).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
