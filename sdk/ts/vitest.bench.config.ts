import { defineConfig } from 'vitest/config';

// npm run bench: the benchmarks in bench/, against a real server built by
// the tests' global setup (or HERALD_BIN).
export default defineConfig({
  test: {
    benchmark: { include: ['bench/**/*.bench.ts'] },
    globalSetup: ['test/globalSetup.ts'],
    hookTimeout: 120_000,
  },
});
