import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { RoutedModel } from './discovery/catalog.js';
import type { Holds } from './hold.js';
import { RouterError } from './http/errors.js';
import type { RouterMetrics } from './metrics.js';
import type { Upstream, Upstreams } from './upstreams.js';

/** Per connection, not per message (RFC 9110 7.6.1): never forwarded either way. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'proxy-authorization', 'proxy-authenticate']);
export const REQUEST_ID_HEADER = 'x-request-id';
/** Answers at most this long (by Content-Length) are read whole and sent in one write. */
const SMALL_ANSWER_BYTES = 64 * 1024;

export interface Forwarding {
  upstreams: Upstreams;
  holds: Holds;
  /** Asks for a first replica of a model at zero; settles on its own. */
  wake(model: RoutedModel): void;
  metrics: RouterMetrics;
}

/** What the request carries to the pod: a body already read (to find the model field) or the unread stream. */
export type ForwardBody = Buffer | Readable | undefined;

/** Told of an answer the router read whole before passing it on (a canary compares it). */
export type AnswerObserver = (statusCode: number, body: Buffer) => void;

/**
 * Sends one request to a ready pod of `model` and streams the pod's answer back, status and
 * body unchanged. Without a ready pod the request is held until one is ready (asking for the
 * first replica of a model at zero). A pod that fails before answering is a 502; a body that was
 * already read is retried once on another pod, a streamed one cannot be.
 */
export async function forward(f: Forwarding, request: FastifyRequest, reply: FastifyReply, model: RoutedModel, path: string, body: ForwardBody, observe?: AnswerObserver): Promise<FastifyReply> {
  const key = `${model.namespace}/${model.name}`;
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.once('close', onClose);
  const { answer, upstream } = await exchange(f, request, model, path, body, abort.signal);
  const done = once(() => {
    f.upstreams.release(upstream);
    reply.raw.off('close', onClose);
  });
  answer.body.once('end', done).once('close', done).once('error', done);
  // As for requests: a short answer goes out in one write, a long one streams. Read before any
  // header is set, so a pod failing mid-answer leaves a clean reply for the error.
  let payload: Buffer | Readable = answer.body;
  if (Number(answer.headers['content-length']) <= SMALL_ANSWER_BYTES) {
    try {
      payload = await readAnswer(answer, upstream, key, abort.signal);
    } finally {
      done();
    }
    observe?.(answer.statusCode, payload);
  }
  return replyWith(request, reply, answer.statusCode, answer.headers, payload);
}

/** Passes a pod's answer on: its status, its headers but the hop-by-hop ones, and the request id. */
export function replyWith(request: FastifyRequest, reply: FastifyReply, statusCode: number, headers: IncomingHttpHeaders, payload: Buffer | Readable): FastifyReply {
  void reply.code(statusCode);
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) void reply.header(name, value);
  void reply.header(REQUEST_ID_HEADER, request.id);
  return reply.send(payload);
}

/** A pod's whole answer to a request the router made up (part of a split one). */
export interface WholeAnswer {
  statusCode: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Sends `body` to a ready pod of `model` as `forward` does, and reads the whole answer instead of passing it on. */
export async function fetchWhole(f: Forwarding, request: FastifyRequest, model: RoutedModel, path: string, body: Buffer, signal: AbortSignal): Promise<WholeAnswer> {
  const { answer, upstream } = await exchange(f, request, model, path, body, signal);
  try {
    const contentType = answer.headers['content-type'];
    return { statusCode: answer.statusCode, contentType: Array.isArray(contentType) ? contentType[0] : contentType, body: await readAnswer(answer, upstream, `${model.namespace}/${model.name}`, signal) };
  } finally {
    f.upstreams.release(upstream);
  }
}

/**
 * The request sent to a ready pod (held until there is one), and the pod's answer unread. A pod
 * that fails before answering is a 502; a body that was already read is retried once on another
 * pod, a streamed one cannot be. The caller releases the upstream once the answer is read.
 */
async function exchange(f: Forwarding, request: FastifyRequest, model: RoutedModel, path: string, body: ForwardBody, signal: AbortSignal): Promise<{ answer: Dispatcher.ResponseData; upstream: Upstream }> {
  const key = `${model.namespace}/${model.name}`;
  const headers = requestHeaders(request.headers, request.id, body);
  const replayable = !isStream(body);
  for (let attempt = 1; ; attempt++) {
    const upstream = f.upstreams.pick(key) ?? await held(f, model, key, signal);
    try {
      return { answer: await upstream.pool.request({ path, method: request.method as Dispatcher.HttpMethod, headers, body: body ?? null, signal }), upstream };
    } catch (err) {
      f.upstreams.release(upstream);
      if (signal.aborted) throw new RouterError('ClientGone', 'client closed the request');
      f.metrics.upstreamErrors.inc({ namespace: model.namespace, model: model.name });
      if (replayable && attempt < 2) continue;
      throw new RouterError('UpstreamFailed', `pod ${upstream.url} of model ${key} failed before answering: ${(err as Error).message}`);
    }
  }
}

async function readAnswer(answer: Dispatcher.ResponseData, upstream: Upstream, key: string, signal: AbortSignal): Promise<Buffer> {
  try {
    return Buffer.from(await answer.body.arrayBuffer());
  } catch (err) {
    if (signal.aborted) throw new RouterError('ClientGone', 'client closed the request');
    throw new RouterError('UpstreamFailed', `pod ${upstream.url} of model ${key} failed while answering: ${(err as Error).message}`);
  }
}

async function held(f: Forwarding, model: RoutedModel, key: string, signal: AbortSignal): Promise<Upstream> {
  const labels = { namespace: model.namespace, model: model.name };
  const started = performance.now();
  f.wake(model);
  f.metrics.held.inc(labels);
  try {
    // A replica can turn ready and leave again between the release and this pick; then wait again, for what is left of the hold.
    for (;;) {
      await f.holds.wait(key, signal, f.holds.timeoutMs - (performance.now() - started));
      const upstream = f.upstreams.pick(key);
      if (upstream) {
        f.metrics.holdDuration.observe({ ...labels, outcome: 'released' }, (performance.now() - started) / 1000);
        return upstream;
      }
    }
  } catch (err) {
    f.metrics.holdDuration.observe({ ...labels, outcome: err instanceof RouterError ? err.kind : 'error' }, (performance.now() - started) / 1000);
    throw err;
  } finally {
    f.metrics.held.dec(labels);
  }
}

export function requestHeaders(incoming: IncomingHttpHeaders, requestId: string, body: ForwardBody): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  headers[REQUEST_ID_HEADER] = requestId;
  // A body the router read and rewrote (the model field removed) has a length of its own.
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  return headers;
}

function isStream(body: ForwardBody): body is Readable {
  return body !== undefined && !Buffer.isBuffer(body);
}

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
