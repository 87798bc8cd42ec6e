// `npm run test:e2e`: the end-to-end suite under its own vitest config, where a container engine
// (Docker, or Podman's Docker-compatible socket) is reachable the way testcontainers finds one
// (DOCKER_HOST, ~/.testcontainers.properties, the default sockets). Without one it says so in one
// line and exits 0: there is nothing to run it on. Run by node directly (type stripping), no build.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getContainerRuntimeClient } from 'testcontainers';

try {
  await getContainerRuntimeClient();
} catch (err) {
  console.log(`test:e2e: skipped, no container engine reachable (${(err as Error).message})`);
  process.exit(0);
}

const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const config = fileURLToPath(new URL('vitest.config.ts', import.meta.url));
const child = spawn(process.execPath, [vitest, 'run', '--config', config, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
