import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './runtime.js';

/** Vitest global setup: suites that spawn the runtime as a process need the compiled dist/. */
export default function setup(): void {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
}
