// Builds the package (tsup) when dist/herald.global.js is missing or older
// than a source file, so that the page always loads the bundle of the
// current sources.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  let built = 0;
  try {
    built = statSync(join(pkgRoot, 'dist/herald.global.js')).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = Math.max(newest(join(pkgRoot, 'src')), statSync(join(pkgRoot, 'tsup.config.ts')).mtimeMs);
  if (built > sources) return;
  execFileSync(resolve(pkgRoot, 'node_modules/.bin/tsup'), [], {
    cwd: pkgRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
