import { defineConfig } from 'tsup';

// index: browsers and React Native (no runtime dependency; the global
// WebSocket). node: the same API with `ws` as the WebSocket on Node 20.
// herald.global.js: one file for a <script> tag (window.Herald).
// herald-sw.js: the Web Push service worker.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', node: 'src/node.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2020',
    external: ['ws'],
  },
  {
    entry: { herald: 'src/index.ts' },
    format: ['iife'],
    globalName: 'Herald',
    outExtension: () => ({ js: '.global.js' }),
    sourcemap: true,
    target: 'es2020',
    platform: 'browser',
  },
  {
    // The service worker of Web Push (webPushSource): one file the site serves.
    entry: { 'herald-sw': 'src/sw/herald-sw.ts' },
    format: ['iife'],
    outExtension: () => ({ js: '.js' }),
    sourcemap: true,
    target: 'es2020',
    platform: 'browser',
  },
]);
