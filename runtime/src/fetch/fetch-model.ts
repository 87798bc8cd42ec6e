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
  /** Bound on the bytes the archive unpacks to, whatever its compressed size. */
  maxUnpackedBytes: number;
  timeoutMs: number;
}

/**
 * Model weights barely compress (tokenizer files ~4:1), while a decompression bomb expands a
 * thousandfold; an archive that unpacks to more than this many times its size is refused.
 */
const MAX_EXPANSION = 20;
const MAX_REDIRECTS = 5;
/** Entry types a model directory is made of; links could point the runtime at files outside it. */
const ENTRY_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Left beside the model so a restarted init container does not download it again. */
const MARKER = '.sentiment-model.sha256';

/**
 * Downloads a .tar.gz of a model directory, refuses it unless its sha256 matches, and unpacks it
 * into `dest` atomically (a half-extracted model is never left where the runtime would load it).
 */
export async function fetchModel(options: FetchOptions, log: (message: string) => void): Promise<void> {
  const url = parseModelUrl(options.url);
  const shown = redactUrl(url);
  const expected = options.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new ModelLoadError(shown, '--sha256 must be 64 hex characters');
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
    const { sha256: actual, bytes } = await download(url, archive, options);
    if (actual !== expected) throw new ModelLoadError(shown, `sha256 mismatch: expected ${expected}, got ${actual}`);
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    await unpack(archive, unpacked, Math.min(options.maxUnpackedBytes, MAX_EXPANSION * bytes), shown);
    const root = modelRoot(unpacked, shown);
    await writeFile(join(root, MARKER), `${expected}\n`);
    await rm(options.dest, { recursive: true, force: true });
    await rename(root, options.dest);
    log(`fetched ${shown} (sha256 ${expected}) into ${options.dest}`);
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Only https, and no credentials in the URL: they would be shown wherever the URL is. */
function parseModelUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ModelLoadError('(url)', 'not a valid URL');
  }
  if (url.username || url.password) throw new ModelLoadError(redactUrl(url), 'credentials in the URL are refused (they would be logged and shown in status)');
  if (url.protocol !== 'https:') throw new ModelLoadError(redactUrl(url), 'only https URLs are fetched');
  return url;
}

/** The URL as it may be shown: a presigned URL's query carries its signature, so it is elided. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?<redacted>' : ''}`;
}

/**
 * Unpacks regular files and directories only, with permission bits alone (no setuid, setgid or
 * sticky), and at most `limit` bytes in all. Refused entries are skipped, not written, so a bomb
 * stops costing disk at the limit; the refusal is reported once the archive has been read.
 */
async function unpack(archive: string, cwd: string, limit: number, shown: string): Promise<void> {
  let total = 0;
  let refusal: string | undefined;
  const filter = (path: string, entry: { type?: string; size?: number; mode?: number }): boolean => {
    if (refusal) return false;
    if (!ENTRY_TYPES.has(entry.type ?? '')) {
      refusal = `${path} is a ${entry.type}: a model archive holds only files and directories (pack links as the files they point to, e.g. tar --dereference)`;
      return false;
    }
    total += entry.size ?? 0;
    if (total > limit) {
      refusal = `archive unpacks to more than ${limit} bytes (the limit: --max-unpacked-bytes, and at most ${MAX_EXPANSION} times the archive's size)`;
      return false;
    }
    if (entry.mode !== undefined) entry.mode &= 0o777;
    return true;
  };
  try {
    // tar strips absolute paths and ".." entries, so an archive cannot write outside `cwd`.
    await extract({ file: archive, cwd, strict: true, preservePaths: false, noChmod: true, filter });
  } catch (error) {
    throw new ModelLoadError(shown, `not a valid .tar.gz archive (${(error as Error).message})`);
  }
  if (refusal) throw new ModelLoadError(shown, refusal);
}

/** GET that follows redirects itself, so that none may lead from https to a plain-text URL. */
async function get(url: URL, signal: AbortSignal): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetch(current, { signal, redirect: 'manual' });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ModelLoadError(redactUrl(url), `download failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) return response;
    await response.body?.cancel();
    if (hop === MAX_REDIRECTS) throw new ModelLoadError(redactUrl(url), `download failed: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current);
    if (next.protocol !== 'https:') throw new ModelLoadError(redactUrl(url), `download failed: redirect to ${next.protocol} refused (only https)`);
    current = next;
  }
}

async function download(url: URL, file: string, options: FetchOptions): Promise<{ sha256: string; bytes: number }> {
  const shown = redactUrl(url);
  const response = await get(url, AbortSignal.timeout(options.timeoutMs));
  if (!response.ok || !response.body) throw new ModelLoadError(shown, `download failed: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > options.maxBytes) throw new ModelLoadError(shown, `archive is ${declared} bytes, over the ${options.maxBytes}-byte limit`);

  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > options.maxBytes) return callback(new ModelLoadError(shown, `archive exceeds the ${options.maxBytes}-byte limit`));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), meter, createWriteStream(file));
  return { sha256: hash.digest('hex'), bytes: received };
}

/** Archives made with `tar -C dir .` and with a single top folder are both accepted. */
function modelRoot(unpacked: string, url: string): string {
  if (existsSync(join(unpacked, 'config.json'))) return unpacked;
  const entries = readdirSync(unpacked).filter((name) => !name.startsWith('.'));
  const only = entries.length === 1 ? join(unpacked, entries[0]!) : undefined;
  if (only && statSync(only).isDirectory() && existsSync(join(only, 'config.json'))) return only;
  throw new ModelLoadError(url, 'archive holds no model directory (no config.json at its root or in a single top folder)');
}

