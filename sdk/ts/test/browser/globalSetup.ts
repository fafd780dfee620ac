// Builds the package (tsup) so that the page loads the bundle of the
// current sources, dist/herald.global.js.
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export default function setup(): void {
  execFileSync(resolve(pkgRoot, 'node_modules/.bin/tsup'), [], {
    cwd: pkgRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
