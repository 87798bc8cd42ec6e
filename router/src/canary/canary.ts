import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { CandidateOutcome } from '#contract/canary.js';
import type { RoutedCanary, RoutedModel } from '../discovery/catalog.js';
import { fetchWhole, replyWith, requestHeaders, type AnswerObserver, type ForwardBody, type Forwarding } from '../forward.js';
import { RouterError } from '../http/errors.js';
import { compare, textAnswers, type InferenceApi } from './compare.js';
import { Split } from './split.js';

/** Sends the request to the model's stable pods as it would go without a canary, telling `observe` of an answer read whole. */
export type SendStable = (observe?: AnswerObserver) => Promise<FastifyReply>;

/** A candidate's answer, read whole. */
interface CandidateAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The upstream key of a model's candidate pods: `#` is in no namespace or model name, so it meets no model's own key. */
export const candidateKey = (model: { namespace: string; name: string }): string => `${model.namespace}/${model.name}#canary`;

/**
 * Runs each model's canary step on its inference requests. In a shadow step the chosen
 * requests go to stable as always and a copy goes to the candidate at the same time; the
 * client gets stable's answer without waiting for the candidate, and the two answers are
 * compared once both are in. In a weight step the chosen requests are answered by the
 * candidate, and the same body is sent to stable in the background to compare; a candidate
 * that fails (no answer, 5xx, 429) is replaced by stable for that request, so clients never see
 * it. Copies (shadow copies and background stable checks) are bounded per router: over the
 * bound a copy is dropped and counted, never queued, so a slow candidate cannot pile up work.
 * Only bodies the router has read are copied; a streamed (long or chunked) one goes to stable.
 */
export class Canaries {
  private readonly split = new Split();
  private copies = 0;

  constructor(private readonly maxCopiesInFlight: number) {}

  async route(f: Forwarding, request: FastifyRequest, reply: FastifyReply, model: RoutedModel, api: InferenceApi, path: string, body: ForwardBody, stable: SendStable): Promise<FastifyReply> {
    const canary = model.canary;
    if (!canary || canary.ready.length === 0 || !Buffer.isBuffer(body)) return stable();
    const key = candidateKey(model);
    if (canary.shadowPercent !== undefined) {
      if (!this.split.take(key, canary.shadowPercent) || !this.acquire(f, model)) return stable();
      const copy = this.askCandidate(f, request, model, canary, path, body, undefined).catch(() => undefined).finally(() => this.release());
      return stable((statusCode, answer) => {
        if (statusCode === 200) void copy.then((candidate) => candidate && this.record(f, model, canary, api, body, answer, candidate.body));
      });
    }
    if (!this.split.take(key, canary.weightPercent!)) return stable();
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableEnded) abort.abort();
    };
    reply.raw.once('close', onClose);
    let candidate: CandidateAnswer | undefined;
    try {
      candidate = await this.askCandidate(f, request, model, canary, path, body, abort.signal);
    } catch (err) {
      if (abort.signal.aborted) throw new RouterError('ClientGone', 'client closed the request');
      request.log.debug({ err }, 'candidate failed before answering; answering from stable');
    } finally {
      reply.raw.off('close', onClose);
    }
    if (!candidate || candidate.statusCode >= 500 || candidate.statusCode === 429) return stable();
    if (candidate.statusCode === 200 && this.acquire(f, model)) {
      const answer = candidate.body;
      void fetchWhole(f, request, model, path, body, AbortSignal.timeout(STABLE_CHECK_TIMEOUT_MS))
        .then((check) => {
          if (check.statusCode === 200) this.record(f, model, canary, api, body, check.body, answer);
        })
        .catch(() => undefined)
        .finally(() => this.release());
    }
    return replyWith(request, reply, candidate.statusCode, candidate.headers, candidate.body);
  }

  /** A model whose canary step changed, ended or that is gone starts its next split afresh. */
  forget(model: RoutedModel): void {
    this.split.forget(candidateKey(model));
  }

  private acquire(f: Forwarding, model: RoutedModel): boolean {
    if (this.copies >= this.maxCopiesInFlight) {
      f.metrics.canary.droppedCopies.inc({ namespace: model.namespace, model: model.name });
      return false;
    }
    this.copies++;
    return true;
  }

  private release(): void {
    this.copies--;
  }

  /**
   * The candidate's whole answer, its outcome and time counted; undefined when no candidate pod
   * is ready. Throws when the pod fails before answering (counted as an error unless the client left).
   */
  private async askCandidate(f: Forwarding, request: FastifyRequest, model: RoutedModel, canary: RoutedCanary, path: string, body: Buffer, signal: AbortSignal | undefined): Promise<CandidateAnswer | undefined> {
    const upstream = f.upstreams.pick(candidateKey(model));
    if (!upstream) return undefined;
    const labels = seriesLabels(model, canary);
    const started = performance.now();
    let outcome: CandidateOutcome = 'error';
    try {
      const answer = await upstream.pool.request({ path, method: request.method as Dispatcher.HttpMethod, headers: requestHeaders(request.headers, request.id, body), body, signal: signal ?? null });
      const whole = { statusCode: answer.statusCode, headers: answer.headers, body: Buffer.from(await answer.body.arrayBuffer()) };
      outcome = whole.statusCode === 429 ? 'overloaded' : whole.statusCode >= 500 ? 'error' : 'ok';
      f.metrics.canary.candidateDuration.observe(labels, (performance.now() - started) / 1000);
      return whole;
    } finally {
      f.upstreams.release(upstream);
      // A client that left is no failure of the candidate's.
      if (!signal?.aborted) f.metrics.canary.candidateRequests.inc({ ...labels, outcome });
    }
  }

  private record(f: Forwarding, model: RoutedModel, canary: RoutedCanary, api: InferenceApi, request: Buffer, stable: Buffer, candidate: Buffer): void {
    const probabilities = api !== 'predict' || (parseJson(request) as { raw_scores?: unknown } | undefined)?.raw_scores !== true;
    const s = textAnswers(api, parseJson(stable), probabilities);
    const c = textAnswers(api, parseJson(candidate), probabilities);
    const result = s && c && compare(s, c, canary.negativeLabel);
    if (!result) return;
    const labels = seriesLabels(model, canary);
    const m = f.metrics.canary;
    m.compared.inc(labels, result.compared);
    m.agreeing.inc(labels, result.agreeing);
    m.negative.inc({ ...labels, side: 'stable' }, result.negative.stable);
    m.negative.inc({ ...labels, side: 'candidate' }, result.negative.candidate);
    for (const side of ['stable', 'candidate'] as const) for (const [label, sum] of result.scoreSums[side]) m.scoreSum.inc({ ...labels, side, label }, sum);
  }
}

/** A background stable check gives up after this: it only feeds the comparison, and holds a copy slot. */
const STABLE_CHECK_TIMEOUT_MS = 30_000;

function seriesLabels(model: RoutedModel, canary: RoutedCanary): Record<'namespace' | 'model' | 'revision' | 'step', string> {
  return { namespace: model.namespace, model: model.name, revision: canary.revision, step: String(canary.step) };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
