import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../runtime/src/app.js';
import { validateConfig } from '../../runtime/src/config/load.js';
import type { ClassifyOptions, Prediction } from '../../runtime/src/core/infer.js';
import { softmax } from '../../runtime/src/core/scores.js';
import { Admission } from '../../runtime/src/http/access.js';
import { BearerTokens } from '../../runtime/src/http/bearer-tokens.js';
import type { ServingContext } from '../../runtime/src/http/context.js';
import { Lifecycle } from '../../runtime/src/lifecycle.js';
import { RuntimeMetrics } from '../../runtime/src/metrics.js';
import type { ModelInfo, ServedModel } from '../../runtime/src/model/served-model.js';

/**
 * A model with rules instead of weights, behind the same interface the routes use: "good" makes
 * a text positive, a text over `maxTokens` words is truncated, a text with no ASCII letter is all
 * unknown tokens. Every call is recorded, and `answer` can be swapped to fail or to hold.
 */
export class FakeModel implements ServedModel {
  readonly info: ModelInfo = {
    labels: ['negative', 'positive'],
    quantization: 'int8',
    executionProvider: 'cpu',
    maxTokens: 8,
    language: { languages: [], scripts: ['Latn'] },
    serving: { sessions: 2, intraOpThreads: 1, maxBatchSize: 32, preferredBatchSize: 8, paddingAllowanceTokens: 4.5 },
  };
  readonly calls: { texts: string[]; options: ClassifyOptions; at: number }[] = [];
  broken: Error | undefined;
  /** What oldestQueuedAt() reports: tests set it to stand for a queue that has waited. */
  queuedSince: number | undefined;
  answer: (texts: string[]) => Promise<Prediction[]> = async (texts) => texts.map((text) => fakePrediction(text, this.info.maxTokens));

  classify(texts: string[], options: ClassifyOptions): Promise<Prediction[]> {
    this.calls.push({ texts, options, at: performance.now() });
    return this.answer(texts);
  }

  oldestQueuedAt(): number | undefined {
    return this.queuedSince;
  }

  failure(): Error | undefined {
    return this.broken;
  }
}

export function fakePrediction(text: string, maxTokens: number): Prediction {
  const logits = /good/i.test(text) ? [-1, 2] : [1.5, -0.5];
  return {
    logits,
    probabilities: softmax(logits),
    truncated: text.split(/\s+/).length > maxTokens,
    unknownRatio: /[a-z]/i.test(text) ? 0 : 1,
  };
}

type Overrides = { [section: string]: Record<string, unknown> };

/** buildApp over a FakeModel, ready (unless `loading`), for app.inject(): no socket, no model. */
export function buildFakeApp(overrides: Overrides = {}, options: { loading?: boolean } = {}): { app: FastifyInstance; model: FakeModel; context: ServingContext } {
  const config = validateConfig({ ...overrides, logging: { level: 'silent', ...overrides.logging } });
  const model = new FakeModel();
  const lifecycle = new Lifecycle();
  const metrics = new RuntimeMetrics();
  const tokens = config.auth.tokenFile === undefined ? undefined : BearerTokens.load(config.auth.tokenFile);
  const context: ServingContext = { config, lifecycle, metrics, exposition: () => metrics.registry.metrics(), tokens, admission: Admission.forConfig(config) };
  if (!options.loading) {
    context.model = model;
    lifecycle.markReady();
  }
  return { app: buildApp(context), model, context };
}
