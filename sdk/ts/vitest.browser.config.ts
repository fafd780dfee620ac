import { defineConfig } from 'vitest/config';

// The browser smoke test: headless Chromium (the Debian package at
// /usr/bin/chromium, or CHROMIUM) loads dist/herald.global.js from a page
// of another origin than the Herald server's. The global setup builds the
// herald binary (or takes HERALD_BIN) and the bundle (tsup).
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts', 'test/browser/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
