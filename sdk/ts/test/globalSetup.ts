// Builds the herald binary once for every test file (HERALD_BIN skips the
// build) and hands its path to the tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    heraldBin: string;
  }
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export default function setup(project: TestProject): () => void {
  let bin = process.env.HERALD_BIN ?? '';
  let dir = '';
  if (!bin) {
    dir = mkdtempSync(join(tmpdir(), 'herald-bin-'));
    bin = join(dir, 'herald');
    const go = process.env.GO ?? 'go';
    execFileSync(go, ['build', '-o', bin, './cmd/herald'], { cwd: repoRoot, stdio: 'inherit' });
  }
  project.provide('heraldBin', bin);
  return () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
