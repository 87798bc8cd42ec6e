import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { finished } from 'node:stream/promises';
import type { KubeAccess } from './config.js';
import { ApiError, type Status } from './errors.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** Another representation than the full object, e.g. PARTIAL_METADATA. */
  accept?: string;
  signal?: AbortSignal;
}

/** Objects as PartialObjectMetadata (and lists as PartialObjectMetadataList): only their metadata crosses the wire. */
export const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
export const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: T;
}

/** A call the apiserver has not answered by then is given up: without a limit one lost answer would stall a worker for good. */
const REQUEST_TIMEOUT_MS = 60_000;
/** A watch outlives its server-side timeoutSeconds by this much before we decide the connection is dead. */
const WATCH_GRACE_MS = 30_000;
/** As client-go does for a service-account token file. */
const TOKEN_REREAD_MS = 60_000;

/** Thrown when a kept-alive connection turned out to be closed by the server before our request went out. */
class StaleConnection extends Error {}

/**
 * The few apiserver calls the operator makes, as JSON over one keep-alive connection pool (a
 * general client's generated models and auth plugins cost more memory than the operator's caches).
 */
export class KubeClient {
  private readonly agent: HttpAgent;
  private readonly transport: typeof httpRequest;
  private readonly prefix: string;
  private token?: { value: string; readAt: number };

  constructor(private readonly access: KubeAccess) {
    const base = new URL(access.server);
    if (base.protocol === 'https:') {
      this.agent = new HttpsAgent({
        keepAlive: true, ca: access.ca, cert: access.cert, key: access.key,
        rejectUnauthorized: !access.insecureSkipTlsVerify, servername: access.tlsServerName,
      });
      this.transport = httpsRequest;
    } else {
      this.agent = new HttpAgent({ keepAlive: true });
      this.transport = httpRequest;
    }
    this.prefix = access.server.replace(/\/+$/, '');
    if (access.token) this.token = { value: access.token, readAt: Date.now() };
  }

  /** One call; resolves to the parsed JSON answer, or rejects with an ApiError for any status >= 300. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, opts, REQUEST_TIMEOUT_MS);
    const text = await readText(res);
    if ((res.statusCode ?? 0) >= 300) throw errorFrom(res.statusCode ?? 0, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A call whose answer is not read, only checked: a write's answer is the whole object, parsing it only makes garbage. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.open(method, path, opts, REQUEST_TIMEOUT_MS);
    if ((res.statusCode ?? 0) >= 300) throw errorFrom(res.statusCode ?? 0, await readText(res));
    await finished(res.resume());
  }

  /**
   * Streams a watch, one event at a time, until the server ends it after `timeoutSeconds`
   * (resolves) or it fails (rejects; an ERROR event becomes an ApiError with the event's code).
   */
  async watch<T>(
    path: string, query: Query & { timeoutSeconds: number }, onEvent: (event: WatchEvent<T>) => void, opts: { signal: AbortSignal; accept?: string },
  ): Promise<void> {
    const res = await this.open('GET', path, { query: { ...query, watch: true }, ...opts }, query.timeoutSeconds * 1000 + WATCH_GRACE_MS);
    if (res.statusCode !== 200) throw errorFrom(res.statusCode ?? 0, await readText(res));
    res.setEncoding('utf8');
    let partial = '';
    for await (const chunk of res as AsyncIterable<string>) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as { type: string; object: unknown };
        if (event.type === 'ERROR') {
          const status = event.object as Status;
          throw new ApiError(status.code ?? 500, status, status.message ?? line);
        }
        onEvent(event as WatchEvent<T>);
      }
    }
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private async open(method: string, path: string, opts: RequestOptions, timeoutMs: number): Promise<IncomingMessage> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const url = `${this.prefix}${path}${query.size > 0 ? `?${query}` : ''}`;
    const headers: OutgoingHttpHeaders = { accept: opts.accept ?? 'application/json' };
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const authorization = this.authorization();
    if (authorization) headers.authorization = authorization;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      return await this.exchange(url, method, headers, body, signal);
    } catch (err) {
      // Node's documented remedy for the race between reusing an idle connection and the server closing it.
      if (err instanceof StaleConnection) return this.exchange(url, method, headers, body, signal);
      throw err;
    }
  }

  private exchange(url: string, method: string, headers: OutgoingHttpHeaders, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.transport(url, { method, headers, agent: this.agent, signal }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleConnection(err.message) : err));
      req.end(body);
    });
  }

  private authorization(): string | undefined {
    const { tokenFile } = this.access;
    if (tokenFile && (!this.token || Date.now() - this.token.readAt > TOKEN_REREAD_MS)) {
      try {
        this.token = { value: readFileSync(tokenFile, 'utf8').trim(), readAt: Date.now() };
      } catch {
        // Mid-rotation the file can be missing for a moment; the token read last is still good for a while.
      }
    }
    return this.token ? `Bearer ${this.token.value}` : undefined;
  }
}

/** `/api/v1/...` for the core group, `/apis/<group>/<version>/...` for the others. */
export function resourcePath(apiVersion: string, plural: string, namespace?: string, name?: string, subresource?: string): string {
  const parts = [apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`];
  if (namespace) parts.push('namespaces', encodeURIComponent(namespace));
  parts.push(plural);
  if (name) parts.push(encodeURIComponent(name));
  if (subresource) parts.push(subresource);
  return parts.join('/');
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function errorFrom(code: number, text: string): ApiError {
  let status: Status | undefined;
  try {
    const parsed = JSON.parse(text) as Status & { kind?: string };
    if (parsed?.kind === 'Status') status = parsed;
  } catch {
    // Not a Status: a proxy's or load balancer's page; its text is the best explanation there is.
  }
  return new ApiError(code, status, status?.message ?? (text.trim().slice(0, 500) || 'no message'));
}
