import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { RuntimeError } from '../core/errors.js';
import type { Prediction } from '../core/infer.js';
import type { Lifecycle } from '../lifecycle.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { ModelService } from '../service.js';

/** What routes share, decorated onto the app so no route imports a singleton. */
export interface ServingContext {
  config: RuntimeConfig;
  lifecycle: Lifecycle;
  metrics: RuntimeMetrics;
  /** The Prometheus text for /metrics: this process's registry, or every serving process's summed. */
  exposition(): Promise<string>;
  /** Absent until the model has loaded and warmed up. */
  service?: ModelService | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    serving: ServingContext;
  }
}

export function requireService(context: ServingContext): ModelService {
  if (!context.service) throw new RuntimeError('NotReady', 'model is still loading', 1);
  return context.service;
}

/** Request limits every inference route applies before any work is queued. */
export function checkTexts(texts: unknown[], config: RuntimeConfig): asserts texts is string[] {
  if (texts.length === 0) throw new RuntimeError('Validation', 'no texts given');
  if (texts.length > config.server.maxTextsPerRequest) {
    throw new RuntimeError('PayloadTooLarge', `too many texts: ${texts.length} (at most ${config.server.maxTextsPerRequest} per request)`);
  }
  texts.forEach((text, i) => {
    if (typeof text !== 'string') throw new RuntimeError('Validation', `text ${i} must be a string`);
    if (text.trim() === '') throw new RuntimeError('Validation', `text ${i} is empty`);
    if (text.length > config.server.maxTextChars) {
      throw new RuntimeError('PayloadTooLarge', `text ${i} has ${text.length} characters (at most ${config.server.maxTextChars})`);
    }
  });
}

/**
 * Runs texts through the classifier on behalf of one HTTP request: its deadline starts at
 * arrival, and its queued texts are dropped if the client disconnects.
 */
export async function classifyForRequest(context: ServingContext, request: FastifyRequest, reply: FastifyReply, texts: string[]): Promise<Prediction[]> {
  const service = requireService(context);
  const abort = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.once('close', onClose);
  context.metrics.inflight.inc();
  try {
    const arrivedAt = performance.now() - reply.elapsedTime;
    return await service.classifier.classify(texts, { signal: abort.signal, deadline: arrivedAt + context.config.server.requestTimeoutMs });
  } finally {
    context.metrics.inflight.dec();
    reply.raw.off('close', onClose);
  }
}
