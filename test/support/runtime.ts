import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accuracyThroughApi, readLabelled, type LabelledText } from '../../hack/bench/labelled.js';
import { validateConfig } from '../../runtime/src/config/load.js';
import { startServer, type RunningServer } from '../../runtime/src/server.js';

export { accuracyThroughApi };

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = join(repoRoot, '..', 'shared');
export const models = {
  demo: join(repoRoot, 'models', 'sst2-bert-mini-en'),
  english: join(sharedDir, 'models', 'sst2-bert-mini-en'),
  chinese: join(sharedDir, 'models', 'chnsenticorp-bert-mini-zh'),
};

/** Fails loudly, never skips: the suites that read ../shared/ are part of the correctness bar. */
export function requireShared(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: these tests read the data and models in ../shared/ beside the checkout`);
  return path;
}

/** Response bodies are asserted on field by field; tests index them freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

type Overrides = { [section: string]: Record<string, unknown> };

/** The real server on a real port of 127.0.0.1, in this process. */
export async function startRuntime(overrides: Overrides = {}): Promise<RunningServer & { close(): Promise<void> }> {
  const config = validateConfig({
    ...overrides,
    server: { host: '127.0.0.1', port: 0, drainDelayMs: 0, ...overrides.server },
    logging: { level: 'warn', ...overrides.logging },
  });
  const server = await startServer(config);
  await server.loaded;
  return { ...server, close: () => server.drain() };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: Json }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json };
}

export function readTsv(path: string): LabelledText[] {
  return readLabelled(requireShared(path));
}

const spawned = new Set<ChildProcess>();
// A test that fails half-way must not leave a server running into the next suite or CI's end.
process.on('exit', () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** The built runtime as its own process: for exit codes, signals and stderr. */
export function spawnRuntime(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const main = join(repoRoot, 'dist', 'runtime', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: the global setup builds it with tsc`);
  return spawnTracked(process.execPath, [main, ...args], { ...process.env, ...env });
}

/** A child process killed when the test process exits, its stdout and stderr collected together. */
export function spawnTracked(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

const READY_URL = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/;

/** Waits for a spawned runtime's "ready" log line and returns its base URL; fails with its output if it exits or stalls. */
export async function waitForReadyUrl(child: ReturnType<typeof spawnTracked>, timeoutMs = 60_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  while (!READY_URL.test(child.output()) || !child.output().includes('"msg":"ready"')) {
    if (child.exitCode !== null) throw new Error(`runtime exited with ${child.exitCode}: ${child.output()}`);
    if (performance.now() > deadline) throw new Error(`runtime not ready after ${timeoutMs} ms: ${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return READY_URL.exec(child.output())![1]!;
}

/** A model directory with id2label swapped, every other file linked: the same scores under the opposite label names. */
export function flippedModelCopy(modelDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flipped-model-'));
  for (const entry of readdirSync(modelDir)) if (entry !== 'config.json') symlinkSync(join(modelDir, entry), join(dir, entry));
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { id2label: Record<string, string>; label2id: Record<string, number> };
  config.id2label = { 0: config.id2label[1]!, 1: config.id2label[0]! };
  config.label2id = Object.fromEntries(Object.entries(config.id2label).map(([id, label]) => [label, Number(id)]));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
