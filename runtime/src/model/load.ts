import type { FastifyBaseLogger } from 'fastify';
import { OnnxBackend } from '../backends/onnx.js';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { Batcher } from '../core/batcher.js';
import { defaultCacheBytes, ResultCache } from '../core/cache.js';
import { Classifier, predictionBytes, type Prediction } from '../core/infer.js';
import { BatchQueue } from '../core/queue.js';
import { TextEncoder } from '../core/tokenizer.js';
import type { RuntimeMetrics } from '../metrics.js';
import { readManifest } from './manifest.js';
import type { LoadedModel } from './served-model.js';

const WARMUP_TEXT = 'A warm-up sentence that exercises the tokenizer and the session.';

/** Loads the model directory, opens the session and runs a warm-up batch before anything is served. */
export async function loadModel(config: RuntimeConfig, metrics: RuntimeMetrics, log: FastifyBaseLogger): Promise<LoadedModel> {
  const manifest = readManifest(config.model.path, { quantization: config.model.quantization, labels: config.model.labels });
  const maxTokens = Math.min(config.model.maxSequenceLength, manifest.maxPositionEmbeddings);
  const encoder = new TextEncoder(manifest.tokenizerFile, maxTokens);
  const backend = await OnnxBackend.open(manifest, config.session, (reason) =>
    log.warn({ requested: config.session.executionProvider, reason }, 'execution provider unavailable, falling back to cpu'),
  );
  const queue = new BatchQueue(config.batching);
  const batcher = new Batcher(queue, backend, { ...config.batching, concurrentBatches: config.session.concurrentBatches, padTokenId: manifest.padTokenId }, metrics);
  const cacheBytes = config.cache.maxBytes ?? defaultCacheBytes();
  const cache = config.cache.enabled ? new ResultCache<Prediction>(config.model.revision, { ...config.cache, maxBytes: cacheBytes }, metrics, predictionBytes) : undefined;
  // Warm-up bypasses the cache so it never stores an answer nobody asked for.
  const warmup = new Classifier(encoder, batcher, undefined, { tokenized: () => {}, answered: () => {} });
  await warmup.classify([WARMUP_TEXT], { deadline: performance.now() + 60_000 });
  const warmupRows = Math.min(config.session.warmupTexts, config.batching.maxBatchSize, config.batching.maxQueue);
  await warmup.classify(Array.from({ length: warmupRows }, (_, i) => `${WARMUP_TEXT} ${i}`), { deadline: performance.now() + 60_000 });

  metrics.setModel({
    model: config.model.name,
    revision: config.model.revision,
    quantization: manifest.quantization,
    executionProvider: backend.info.executionProvider,
    requestedProvider: backend.info.requestedProvider,
    labels: manifest.labels,
  });
  log.info(
    { model: config.model.name, revision: config.model.revision, file: manifest.onnxFile, cacheBytes: config.cache.enabled ? cacheBytes : 0, quantization: manifest.quantization, provider: backend.info.executionProvider, maxTokens, labels: manifest.labels },
    'model loaded and warmed up',
  );
  const classifier = new Classifier(encoder, batcher, cache, metrics);
  return {
    info: { labels: manifest.labels, quantization: manifest.quantization, executionProvider: backend.info.executionProvider, maxTokens: classifier.maxTokens },
    classify: (texts, options) => classifier.classify(texts, options),
    oldestQueuedAt: () => queue.oldestEnqueuedAt,
    failure: () => backend.failure,
    idle: () => batcher.idle(),
    close: () => backend.close(),
  };
}
