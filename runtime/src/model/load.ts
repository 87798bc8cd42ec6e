import type { FastifyBaseLogger } from 'fastify';
import { cpuQuotaCores } from '../backends/cpu-quota.js';
import { OnnxBackend } from '../backends/onnx.js';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { sessionLayout, type SessionLayout } from '#contract/session-layout.js';
import { BatchSizeChooser } from '../core/batch-size.js';
import { Batcher } from '../core/batcher.js';
import { defaultCacheBytes, ResultCache } from '../core/cache.js';
import { Classifier, predictionBytes, type Prediction } from '../core/infer.js';
import { BatchQueue } from '../core/queue.js';
import { TextEncoder } from '../core/tokenizer.js';
import type { RuntimeMetrics } from '../metrics.js';
import { modelLanguage } from '#contract/language.js';
import { readManifest } from './manifest.js';
import type { LoadedModel } from './served-model.js';

const WARMUP_TEXT = 'A warm-up sentence that exercises the tokenizer and the session.';
/** About as many tokens as an average review sentence (SST-2 dev: ~25), so probed costs per token resemble traffic's. */
const PROBE_TEXT = 'A probe sentence, about as long as a typical review, that measures what each batch size costs on this pod.';
const PROBE_ROUNDS = 3;
/**
 * A batch predicted to run longer than this is not preferred, however cheap per text: under load
 * every text waits for the batch ahead of it and then its own.
 */
const BATCH_LATENCY_BUDGET_MS = 50;

/** Sessions and threads per session: as configured, or derived from the pod's CPU quota. */
export function resolveLayout(config: RuntimeConfig, cores: () => number = cpuQuotaCores): SessionLayout {
  const { sessions, intraOpThreads, executionProvider } = config.session;
  // One GPU runs one kernel stream at a time; more sessions would only hold more copies of the model.
  if (executionProvider === 'cuda') return { sessions: sessions || 1, intraOpThreads };
  return sessionLayout(cores(), config.server.processes, { sessions, intraOpThreads });
}

/** Loads the model directory, opens the session and runs a warm-up batch before anything is served. */
export async function loadModel(config: RuntimeConfig, metrics: RuntimeMetrics, log: FastifyBaseLogger): Promise<LoadedModel> {
  const manifest = readManifest(config.model.path, { quantization: config.model.quantization, labels: config.model.labels });
  const maxTokens = Math.min(config.model.maxSequenceLength, manifest.maxPositionEmbeddings);
  const encoder = new TextEncoder(manifest.tokenizerFile, maxTokens);
  const language = modelLanguage(manifest.languages, encoder.vocabulary());
  const layout = resolveLayout(config);
  const backend = await OnnxBackend.open(manifest, { ...config.session, ...layout }, (reason) =>
    log.warn({ requested: config.session.executionProvider, reason }, 'execution provider unavailable, falling back to cpu'),
  );
  // performance.now() counts from the process's start (performance.timeOrigin).
  const sessionOpenAt = performance.now();
  const queue = new BatchQueue(config.batching);
  const batchSize = new BatchSizeChooser({ maxBatchSize: config.batching.maxBatchSize, latencyBudgetMs: BATCH_LATENCY_BUDGET_MS });
  const batcher = new Batcher(
    queue,
    backend,
    { ...config.batching, concurrentBatches: layout.sessions * config.session.concurrentBatches, padTokenId: manifest.padTokenId, batchSize },
    metrics,
  );
  const cacheBytes = config.cache.maxBytes ?? defaultCacheBytes();
  const cache = config.cache.enabled ? new ResultCache<Prediction>(config.model.revision, { ...config.cache, maxBytes: cacheBytes }, metrics, predictionBytes) : undefined;
  // Warm-up bypasses the cache so it never stores an answer nobody asked for.
  const warmup = new Classifier(encoder, batcher, undefined, { tokenized: () => {}, answered: () => {} });
  await warmup.classify([WARMUP_TEXT], { deadline: performance.now() + 60_000 });
  const warmupRows = Math.min(config.session.warmupTexts, config.batching.maxBatchSize, config.batching.maxQueue);
  await warmup.classify(Array.from({ length: warmupRows }, (_, i) => `${WARMUP_TEXT} ${i}`), { deadline: performance.now() + 60_000 });
  const [probe] = await encoder.encode([PROBE_TEXT]);
  await batcher.probeBatchSizes(probe!, PROBE_ROUNDS);
  metrics.watchBatchChoice(() => batchSize);
  metrics.startup(performance.timeOrigin, { modelLoad: sessionOpenAt / 1000, warmUp: (performance.now() - sessionOpenAt) / 1000 });

  metrics.setModel({
    model: config.model.name,
    revision: config.model.revision,
    quantization: manifest.quantization,
    executionProvider: backend.info.executionProvider,
    requestedProvider: backend.info.requestedProvider,
    labels: manifest.labels,
  });
  log.info(
    { model: config.model.name, revision: config.model.revision, file: manifest.onnxFile, cacheBytes: config.cache.enabled ? cacheBytes : 0, quantization: manifest.quantization, provider: backend.info.executionProvider, maxTokens, labels: manifest.labels, ...language, ...layout, preferredBatchSize: batchSize.preferred },
    'model loaded and warmed up',
  );
  const classifier = new Classifier(encoder, batcher, cache, metrics);
  return {
    info: {
      labels: manifest.labels,
      quantization: manifest.quantization,
      executionProvider: backend.info.executionProvider,
      maxTokens: classifier.maxTokens,
      language,
      serving: { ...layout, maxBatchSize: config.batching.maxBatchSize, get preferredBatchSize() { return batchSize.preferred; }, get paddingAllowanceTokens() { return Number.isFinite(batchSize.paddingAllowance) ? Math.round(batchSize.paddingAllowance * 10) / 10 : null; } },
    },
    classify: (texts, options) => classifier.classify(texts, options),
    oldestQueuedAt: () => queue.oldestEnqueuedAt,
    failure: () => backend.failure,
    idle: () => batcher.idle(),
    close: () => backend.close(),
  };
}
