import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar';
import { redactUrl } from '#contract/model-fetch.js';
import { ModelLoadError } from '../model/errors.js';

export interface FetchOptions {
  url: string;
  sha256: string;
  dest: string;
  maxBytes: number;
  /** Bound on the bytes the archive unpacks to, whatever its compressed size. */
  maxUnpackedBytes: number;
  timeoutMs: number;
  /** Sent to the URL's own origin only: a redirect elsewhere (a presigned storage URL) goes without them. */
  headers?: Record<string, string>;
  /** Certificate authorities (PEM) to trust instead of the default ones, e.g. the defaults plus a private CA. */
  ca?: string[];
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
async function get(url: URL, options: FetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const headers = current.origin === url.origin ? options.headers : undefined;
    let response: IncomingMessage;
    try {
      response = await request(current, { headers, ca: options.ca, signal });
    } catch (error) {
      throw new ModelLoadError(redactUrl(url), `download failed: ${failureReason(error, options, signal)}`);
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status < 300 || status >= 400 || location === undefined) return response;
    response.resume();
    if (hop === MAX_REDIRECTS) throw new ModelLoadError(redactUrl(url), `download failed: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current);
    if (next.protocol !== 'https:') throw new ModelLoadError(redactUrl(url), `download failed: redirect to ${next.protocol} refused (only https)`);
    current = next;
  }
}

/**
 * node:https rather than fetch: it takes the CA list per request, and it hands over the bytes as
 * sent (fetch would undo a Content-Encoding, and the sha256 is of the file as published).
 */
function request(url: URL, options: { headers: Record<string, string> | undefined; ca: string[] | undefined; signal: AbortSignal }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { headers: options.headers, ca: options.ca, signal: options.signal }, resolve).on('error', reject);
  });
}

async function download(url: URL, file: string, options: FetchOptions): Promise<{ sha256: string; bytes: number }> {
  const shown = redactUrl(url);
  const signal = AbortSignal.timeout(options.timeoutMs);
  const response = await get(url, options, signal);
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    response.resume();
    throw new ModelLoadError(shown, `download failed: HTTP ${status}`);
  }
  const declared = Number(response.headers['content-length'] ?? 0);
  if (declared > options.maxBytes) {
    response.destroy();
    throw new ModelLoadError(shown, `archive is ${declared} bytes, over the ${options.maxBytes}-byte limit`);
  }

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
  try {
    await pipeline(response, meter, createWriteStream(file));
  } catch (error) {
    if (error instanceof ModelLoadError) throw error;
    throw new ModelLoadError(shown, `download failed: ${failureReason(error, options, signal)}`);
  }
  return { sha256: hash.digest('hex'), bytes: received };
}

/** Certificate checks that fail when the server's chain ends at a CA this process does not trust. */
const UNTRUSTED_ISSUER = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

function failureReason(error: unknown, options: FetchOptions, signal: AbortSignal): string {
  if (signal.aborted) return `timed out after ${options.timeoutMs / 1000} s`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && UNTRUSTED_ISSUER.has(code)) return `${code}: the server's certificate is not signed by a trusted CA (a private CA's certificate goes in --ca-file)`;
  return code ?? (error as Error).message;
}

/** Archives made with `tar -C dir .` and with a single top folder are both accepted. */
function modelRoot(unpacked: string, url: string): string {
  if (existsSync(join(unpacked, 'config.json'))) return unpacked;
  const entries = readdirSync(unpacked).filter((name) => !name.startsWith('.'));
  const only = entries.length === 1 ? join(unpacked, entries[0]!) : undefined;
  if (only && statSync(only).isDirectory() && existsSync(join(only, 'config.json'))) return only;
  throw new ModelLoadError(url, 'archive holds no model directory (no config.json at its root or in a single top folder)');
}

