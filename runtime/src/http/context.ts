import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { RuntimeError } from '../core/errors.js';
import type { Prediction } from '../core/infer.js';
import type { Lifecycle } from '../lifecycle.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { ServedModel } from '../model/served-model.js';
import type { Admission } from './access.js';
import type { BearerTokens } from './bearer-tokens.js';

/** What routes share, decorated onto the app so no route imports a singleton. */
export interface ServingContext {
  config: RuntimeConfig;
  lifecycle: Lifecycle;
  metrics: RuntimeMetrics;
  /** The Prometheus text for /metrics: this process's registry, or every serving process's summed. */
  exposition(): Promise<string>;
  admission: Admission;
  /** The accepted bearer tokens; absent when auth.tokenFile is unset. */
  tokens?: BearerTokens | undefined;
  /** Absent until the model has loaded and warmed up. */
  model?: ServedModel | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    serving: ServingContext;
  }
}

export function requireModel(context: ServingContext): ServedModel {
  if (!context.model) throw new RuntimeError('NotReady', 'model is still loading', 1);
  return context.model;
}

/**
 * Runs texts through the model on behalf of one HTTP request: its deadline starts at arrival,
 * and its queued texts are dropped if the client disconnects.
 */
export async function classifyForRequest(context: ServingContext, request: FastifyRequest, reply: FastifyReply, texts: string[]): Promise<Prediction[]> {
  const model = requireModel(context);
  const abort = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.once('close', onClose);
  context.metrics.inflight.inc();
  try {
    return await model.classify(texts, { signal: abort.signal, deadline: request.arrivedAt + context.config.server.requestTimeoutMs });
  } finally {
    context.metrics.inflight.dec();
    reply.raw.off('close', onClose);
  }
}
