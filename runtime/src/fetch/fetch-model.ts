import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar';
import { ModelLoadError } from '../model/errors.js';

export interface FetchOptions {
  url: string;
  sha256: string;
  dest: string;
  maxBytes: number;
  timeoutMs: number;
}

/** Left beside the model so a restarted init container does not download it again. */
const MARKER = '.sentiment-model.sha256';

/**
 * Downloads a .tar.gz of a model directory, refuses it unless its sha256 matches, and unpacks it
 * into `dest` atomically (a half-extracted model is never left where the runtime would load it).
 */
export async function fetchModel(options: FetchOptions, log: (message: string) => void): Promise<void> {
  const expected = options.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new ModelLoadError(options.url, '--sha256 must be 64 hex characters');
  const url = new URL(options.url);
  if (url.protocol !== 'https:') throw new ModelLoadError(options.url, 'only https URLs are fetched');
  const marker = join(options.dest, MARKER);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === expected) {
    log(`model already present in ${options.dest} (sha256 ${expected})`);
    return;
  }

  const parent = dirname(options.dest);
  await mkdir(parent, { recursive: true });
  const work = await mkdtemp(join(parent, '.fetch-'));
  try {
    const archive = join(work, 'model.tar.gz');
    const actual = await download(url, archive, options);
    if (actual !== expected) throw new ModelLoadError(options.url, `sha256 mismatch: expected ${expected}, got ${actual}`);
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    try {
      // tar strips absolute paths and ".." entries, so an archive cannot write outside `unpacked`.
      await extract({ file: archive, cwd: unpacked, strict: true, preservePaths: false, noChmod: true });
    } catch (error) {
      throw new ModelLoadError(options.url, `not a valid .tar.gz archive (${(error as Error).message})`);
    }
    const root = modelRoot(unpacked, options.url);
    await writeFile(join(root, MARKER), `${expected}\n`);
    await rm(options.dest, { recursive: true, force: true });
    await rename(root, options.dest);
    log(`fetched ${options.url} (sha256 ${expected}) into ${options.dest}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function download(url: URL, file: string, options: FetchOptions): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ModelLoadError(url.href, `download failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (!response.ok || !response.body) throw new ModelLoadError(url.href, `download failed: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > options.maxBytes) throw new ModelLoadError(url.href, `archive is ${declared} bytes, over the ${options.maxBytes}-byte limit`);

  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > options.maxBytes) return callback(new ModelLoadError(url.href, `archive exceeds the ${options.maxBytes}-byte limit`));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), meter, createWriteStream(file));
  return hash.digest('hex');
}

/** Archives made with `tar -C dir .` and with a single top folder are both accepted. */
function modelRoot(unpacked: string, url: string): string {
  if (existsSync(join(unpacked, 'config.json'))) return unpacked;
  const entries = readdirSync(unpacked).filter((name) => !name.startsWith('.'));
  const only = entries.length === 1 ? join(unpacked, entries[0]!) : undefined;
  if (only && statSync(only).isDirectory() && existsSync(join(only, 'config.json'))) return only;
  throw new ModelLoadError(url, 'archive holds no model directory (no config.json at its root or in a single top folder)');
}

