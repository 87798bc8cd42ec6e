import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from './core/batcher.js';
import { argmax } from './core/scores.js';
import type { AnswerSource, InferObserver, Prediction } from './core/infer.js';
import type { EncodedText } from './core/tokenizer.js';
import { POISON_REASONS, type PoisonReason } from './stream/decode.js';
import type { StreamObserver, StreamOperation } from './stream/observer.js';

const PREFIX = 'sentiment_runtime_';
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ANSWER_SOURCES: readonly AnswerSource[] = ['model', 'cache'];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

interface BatchChoice { preferred: number; paddingAllowance: number }

/** Every Prometheus series the runtime exports; the autoscaler reads inflight and queue depth. */
export class RuntimeMetrics implements BatchObserver, InferObserver, StreamObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: `${PREFIX}requests_total`, help: 'HTTP requests by route and status code.', labelNames: ['route', 'code'], registers: [this.registry] });
  readonly requestDuration = new Histogram({ name: `${PREFIX}request_duration_seconds`, help: 'HTTP request latency.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly inflight = new Gauge({ name: `${PREFIX}inflight_requests`, help: 'Inference requests being handled now.', registers: [this.registry] });
  private readonly queueDepthGauge = new Gauge({ name: `${PREFIX}queue_depth`, help: 'Texts waiting for a batch.', registers: [this.registry] });
  /** Exported so alerts can express saturation as queue_depth / queue_capacity without knowing the config. */
  readonly queueCapacity = new Gauge({ name: `${PREFIX}queue_capacity`, help: 'Texts the queue holds before requests get 429 (batching.maxQueue).', registers: [this.registry] });
  private readonly batchSize = new Histogram({ name: `${PREFIX}batch_size`, help: 'Texts per executed batch.', buckets: SIZE_BUCKETS, registers: [this.registry] });
  private readonly paddedTokens = new Histogram({ name: `${PREFIX}batch_padded_tokens`, help: 'Padded tokens (rows x longest row) per executed batch.', buckets: [16, 64, 256, 1024, 4096, 16384, 65536], registers: [this.registry] });
  private readonly inferenceDuration = new Histogram({ name: `${PREFIX}inference_duration_seconds`, help: 'Time to run one batch on the session.', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly tokenizationDuration = new Histogram({ name: `${PREFIX}tokenization_duration_seconds`, help: 'Time to tokenize the uncached texts of one request.', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly truncated = new Counter({ name: `${PREFIX}truncated_inputs_total`, help: 'Texts cut to the token limit.', registers: [this.registry] });
  private readonly unknownRatio = new Histogram({ name: `${PREFIX}unknown_token_ratio`, help: 'Share of a text\'s tokens that are unknown or fragments of words split 3+ ways.', buckets: [0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1], registers: [this.registry] });
  private readonly predictions = new Counter({ name: `${PREFIX}predictions_total`, help: 'Answered texts by predicted label and source (model or cache).', labelNames: ['label', 'source'], registers: [this.registry] });
  private readonly cacheRequests = new Counter({ name: `${PREFIX}cache_requests_total`, help: 'Result cache lookups by result.', labelNames: ['result'], registers: [this.registry] });
  private readonly droppedTexts = new Counter({ name: `${PREFIX}dropped_texts_total`, help: 'Queued texts dropped before inference.', labelNames: ['reason'], registers: [this.registry] });
  readonly timedOutRequests = new Counter({ name: `${PREFIX}timed_out_requests_total`, help: 'Connections closed because a request\'s headers or body did not arrive within server.headersTimeoutMs / server.bodyTimeoutMs.', registers: [this.registry] });
  readonly rejected = new Counter({ name: `${PREFIX}rejected_requests_total`, help: 'Requests refused by kind (Overloaded, Validation, ...).', labelNames: ['kind'], registers: [this.registry] });
  // With server.processes > 1 the primary sums series across workers; these two must not add up.
  readonly ready = new Gauge({ name: `${PREFIX}ready`, help: '1 when the model is loaded, warmed up and not draining (in every serving process).', aggregator: 'min', registers: [this.registry] });
  /**
   * The parts of this process's start, for the router's cold-start split: modelLoad from the
   * process's start to the model's session open (module loading and listening included), warmUp
   * from then until ready to serve. With several serving processes, the slowest one's.
   */
  private readonly startupPhases = new Gauge({ name: `${PREFIX}startup_seconds`, help: 'This process\'s start by phase: modelLoad (process start to session open), warmUp (warm-up batches and batch-size probe).', labelNames: ['phase'], aggregator: 'max', registers: [this.registry] });
  // process_start_time_seconds is whole seconds; a cold start's parts need the millisecond.
  private readonly startTime = new Gauge({ name: `${PREFIX}start_time_seconds`, help: 'When this process started, in seconds since the epoch to the millisecond (the latest serving process\'s).', aggregator: 'max', registers: [this.registry] });
  private readonly modelInfo = new Gauge({ name: `${PREFIX}model_info`, help: 'The served model; value is always 1.', labelNames: ['model', 'revision', 'quantization', 'execution_provider', 'requested_provider'], aggregator: 'max', registers: [this.registry] });

  private readonly streamConsumed = new Counter({ name: `${PREFIX}stream_consumed_records_total`, help: 'Records consumed from the input topic (stream mode).', registers: [this.registry] });
  private readonly streamProduced = new Counter({ name: `${PREFIX}stream_produced_records_total`, help: 'Results acknowledged by the output topic.', registers: [this.registry] });
  private readonly streamDeadLettered = new Counter({ name: `${PREFIX}stream_dead_lettered_records_total`, help: 'Poison records by reason: sent to the dead-letter topic, or skipped without one.', labelNames: ['reason'], registers: [this.registry] });
  private readonly streamRedelivered = new Counter({ name: `${PREFIX}stream_redelivered_records_total`, help: 'Records handed over again after a reconnect whose result this process had already produced (skipped, not produced twice).', registers: [this.registry] });
  private readonly streamDuplicatesAvoided = new Counter({ name: `${PREFIX}stream_duplicates_avoided_total`, help: 'Records consumed again after a crash or a partition move whose result the previous owner had already produced (found in the output topic\'s tail and skipped, not produced twice).', registers: [this.registry] });
  private readonly streamCommitDuration = new Histogram({ name: `${PREFIX}stream_commit_duration_seconds`, help: 'Time to commit consumed offsets, after their results were acknowledged.', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly streamEndToEnd = new Histogram({ name: `${PREFIX}stream_end_to_end_seconds`, help: 'From an input record\'s timestamp to its result\'s acknowledgement.', buckets: [...LATENCY_BUCKETS, 30, 60, 300], registers: [this.registry] });
  private readonly streamLag = new Gauge({ name: `${PREFIX}stream_lag`, help: 'Records on the input topic not yet committed, per partition assigned to this process.', labelNames: ['topic', 'partition'], registers: [this.registry] });
  private readonly streamErrors = new Counter({ name: `${PREFIX}stream_errors_total`, help: 'Kafka failures by operation (consume, produce, commit, lag, duplicates: reading the output tail); each is retried with backoff.', labelNames: ['operation'], registers: [this.registry] });

  private readBatchChoice: (() => BatchChoice) | undefined;

  constructor(private labels: string[] = []) {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.batchChoiceGauge('preferred_batch_size',
      'The batch size measured to serve the most texts per second here; batches are cut at it (batching.maxBatchSize bounds it).',
      (choice) => choice.preferred);
    this.batchChoiceGauge('batch_padding_allowance_tokens',
      'Padding tokens one more text may bring into a batch: the measured per-batch overhead in tokens (+Inf until measured or where padding costs nothing).',
      (choice) => choice.paddingAllowance);
  }

  setModel(info: { model: string; revision: string; quantization: string; executionProvider: string; requestedProvider: string; labels: string[] }): void {
    this.labels = info.labels;
    this.modelInfo.reset();
    this.modelInfo.set({ model: info.model, revision: info.revision, quantization: info.quantization, execution_provider: info.executionProvider, requested_provider: info.requestedProvider }, 1);
    for (const label of info.labels) for (const source of ANSWER_SOURCES) this.predictions.inc({ label, source }, 0);
  }

  /** `processStartedAt` in epoch ms; the phases in seconds. */
  startup(processStartedAt: number, phases: { modelLoad: number; warmUp: number }): void {
    this.startTime.set(processStartedAt / 1000);
    for (const [phase, seconds] of Object.entries(phases)) this.startupPhases.set({ phase }, seconds);
  }

  watchBatchChoice(read: () => BatchChoice): void {
    this.readBatchChoice = read;
  }

  /** A gauge read from the batcher's choice at each scrape: the batcher keeps re-choosing as it measures. */
  private batchChoiceGauge(name: string, help: string, pick: (choice: BatchChoice) => number): void {
    const gauge: Gauge = new Gauge({
      name: `${PREFIX}${name}`, help, aggregator: 'average', registers: [this.registry],
      collect: () => {
        if (this.readBatchChoice) gauge.set(pick(this.readBatchChoice()));
      },
    });
  }

  queueDepth(depth: number): void {
    this.queueDepthGauge.set(depth);
  }

  batch(stats: { size: number; paddedTokens: number; seconds: number }): void {
    this.batchSize.observe(stats.size);
    this.paddedTokens.observe(stats.paddedTokens);
    this.inferenceDuration.observe(stats.seconds);
  }

  dropped(reason: 'ClientGone' | 'DeadlineExceeded'): void {
    this.droppedTexts.inc({ reason });
  }

  tokenized(seconds: number, encoded: EncodedText[]): void {
    this.tokenizationDuration.observe(seconds);
    for (const item of encoded) {
      if (item.truncated) this.truncated.inc();
      this.unknownRatio.observe(item.unknownRatio);
    }
  }

  answered(predictions: Prediction[], source: AnswerSource): void {
    for (const prediction of predictions) {
      const best = argmax(prediction.probabilities);
      this.predictions.inc({ label: this.labels[best] ?? String(best), source });
    }
  }

  consumed(count: number): void {
    this.streamConsumed.inc(count);
  }

  produced(count: number, timestamps: bigint[], now: number): void {
    this.streamProduced.inc(count);
    for (const timestamp of timestamps) this.streamEndToEnd.observe(Math.max(0, now - Number(timestamp)) / 1000);
  }

  deadLettered(reason: PoisonReason): void {
    this.streamDeadLettered.inc({ reason });
  }

  redelivered(count: number): void {
    this.streamRedelivered.inc(count);
  }

  duplicatesAvoided(count: number): void {
    this.streamDuplicatesAvoided.inc(count);
  }

  committed(seconds: number): void {
    this.streamCommitDuration.observe(seconds);
  }

  lag(topic: string, lags: Map<number, bigint>): void {
    this.streamLag.reset();
    for (const [partition, lag] of lags) this.streamLag.set({ topic, partition: String(partition) }, Number(lag));
  }

  streamError(operation: StreamOperation): void {
    this.streamErrors.inc({ operation });
  }

  /** Stream series exist at zero from the start, so rate() and alerts see them before the first record. */
  startStream(): void {
    this.streamConsumed.inc(0);
    this.streamProduced.inc(0);
    this.streamRedelivered.inc(0);
    for (const reason of POISON_REASONS) this.streamDeadLettered.inc({ reason }, 0);
  }

  hit(): void {
    this.cacheRequests.inc({ result: 'hit' });
  }

  miss(): void {
    this.cacheRequests.inc({ result: 'miss' });
  }
}
