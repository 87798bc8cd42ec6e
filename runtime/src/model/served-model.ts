import type { ExecutionProvider, Quantization } from '#contract/runtime-config.js';
import type { ClassifyOptions, Prediction } from '../core/infer.js';
import type { ModelLanguage } from '#contract/language.js';

export interface ModelInfo {
  /** Class names by index, as the model's logits are ordered. */
  labels: string[];
  quantization: Quantization;
  /** The provider that actually runs, after any fallback. */
  executionProvider: ExecutionProvider;
  /** Tokens per text beyond which a text is truncated. */
  maxTokens: number;
  /** The languages the model declares and the scripts it reads: texts in others get a warning. */
  language: ModelLanguage;
  serving: ServingLayout;
}

/** How the model is spread over the pod's CPU and how big its batches are. */
export interface ServingLayout {
  sessions: number;
  intraOpThreads: number;
  maxBatchSize: number;
  /** The batch size measured to serve best here; it moves as the batcher keeps measuring. */
  readonly preferredBatchSize: number;
  /** Padding one more text may bring into a batch, in tokens; null while unlimited. */
  readonly paddingAllowanceTokens: number | null;
}

/**
 * All the HTTP layer needs from a loaded model. It is the seam the route tests put a fake behind,
 * so the HTTP contract is tested without a socket or a model.
 */
export interface ServedModel {
  readonly info: ModelInfo;
  /** One Prediction per text, in input order. */
  classify(texts: string[], options: ClassifyOptions): Promise<Prediction[]>;
  /** When the oldest text still waiting for a batch was queued (performance.now() clock), if any: admission reads the queue's wait from it. */
  oldestQueuedAt(): number | undefined;
  /** Why the model can no longer answer, if it cannot; liveness fails on it. */
  failure(): Error | undefined;
}

/** The served model as the server owns it: it also drains and closes it. */
export interface LoadedModel extends ServedModel {
  /** Resolves when every queued and running batch has finished. */
  idle(): Promise<void>;
  close(): Promise<void>;
}
