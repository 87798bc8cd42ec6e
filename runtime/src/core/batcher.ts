import type { Backend, Batch, BatchOutput } from '../backends/backend.js';
import type { BatchSizeChooser } from './batch-size.js';
import type { QueueEntry } from './queue.js';
import { BatchQueue } from './queue.js';
import type { EncodedText } from './tokenizer.js';

export interface BatcherOptions {
  maxBatchSize: number;
  maxBatchDelayMs: number;
  /** Batches out at once: sessions x batches per session. */
  concurrentBatches: number;
  padTokenId: number;
  /** Learns the batch size that serves best; without it every batch may take maxBatchSize. */
  batchSize?: BatchSizeChooser | undefined;
}

/** Time as the batcher reads and waits on it; tests pass a fake one and move it by hand. */
export interface BatcherClock {
  /** Milliseconds on the clock the queue entries' enqueuedAt and deadline use. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const performanceClock: BatcherClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface BatchObserver {
  queueDepth(depth: number): void;
  batch(stats: { size: number; paddedTokens: number; seconds: number }): void;
  dropped(reason: 'ClientGone' | 'DeadlineExceeded'): void;
}

/**
 * Drives the queue: decides when a batch leaves (full, waited long enough, or idle with
 * maxBatchDelayMs 0), pads it, runs it on the backend and hands each row back to its entry.
 * At most `concurrentBatches` run at once; texts arriving meanwhile collect into the next batch.
 */
export class Batcher {
  private running = 0;
  private timer: unknown;
  private immediate: NodeJS.Immediate | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly queue: BatchQueue,
    private readonly backend: Backend,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver,
    private readonly clock: BatcherClock = performanceClock,
  ) {}

  /** Refuses (Overloaded) unless `count` more texts fit, so callers can refuse before tokenizing. */
  ensureRoom(count: number): void {
    this.queue.ensureRoom(count);
  }

  submit(entries: QueueEntry[]): void {
    this.queue.append(entries);
    this.observer.queueDepth(this.queue.size);
    this.schedule();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.size === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * `now` dispatches synchronously; otherwise a ready batch waits one turn so texts from requests
   * parsed in the same I/O phase join it.
   */
  private schedule(now = false): void {
    if (this.running >= this.options.concurrentBatches || this.queue.size === 0 || this.immediate) return;
    const oldest = this.queue.oldestEnqueuedAt!;
    const wait = this.options.maxBatchDelayMs - (this.clock.now() - oldest);
    const full = this.options.batchSize?.preferred ?? this.options.maxBatchSize;
    if (this.queue.size >= full || wait <= 0) {
      if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      if (now) {
        void this.dispatch();
        return;
      }
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        void this.dispatch();
      });
    } else if (this.timer === undefined) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
    }
  }

  private async dispatch(): Promise<void> {
    if (this.running >= this.options.concurrentBatches) return;
    // Queued texts are shared among the idle sessions: one session taking them all would work
    // through them alone while another core idles.
    const idleSessions = this.options.concurrentBatches - this.running;
    const rows = Math.min(this.options.batchSize?.nextLimit() ?? this.options.maxBatchSize, Math.ceil(this.queue.size / idleSessions));
    const next = this.queue.nextBatch(this.clock.now(), rows, this.options.batchSize?.paddingAllowance);
    if (next) {
      for (const { entry, error } of next.dropped) {
        this.observer.dropped(error.kind as 'ClientGone' | 'DeadlineExceeded');
        entry.reject(error);
      }
    }
    this.observer.queueDepth(this.queue.size);
    if (next && next.entries.length > 0) {
      this.running++;
      // Start forming the next batch while this one runs, when more than one may run.
      this.schedule();
      await this.execute(next.entries);
    }
    if (this.queue.size > 0) this.schedule();
    else if (this.running === 0) this.notifyIdle();
  }

  private async execute(entries: QueueEntry[]): Promise<void> {
    const batch = this.pad(entries.map((entry) => entry.encoded));
    const started = this.clock.now();
    let outcome: BatchOutput | { error: Error };
    try {
      outcome = await this.backend.run(batch);
      const seconds = (this.clock.now() - started) / 1000;
      const tokens = entries.reduce((sum, entry) => sum + entry.encoded.ids.length, 0);
      const paddedTokens = batch.rows * batch.columns;
      this.options.batchSize?.record({ size: entries.length, tokens, paddedTokens, seconds, runCpuSeconds: outcome.runCpuSeconds });
      this.observer.batch({ size: entries.length, paddedTokens, seconds });
    } catch (error) {
      outcome = { error: error as Error };
    }
    // Hand the session its next batch (texts queued during this run) before writing answers, so
    // it does not idle while responses are serialized.
    this.running--;
    this.schedule(true);
    if ('error' in outcome) {
      for (const entry of entries) entry.reject(outcome.error);
      return;
    }
    const classes = outcome.logits.length / entries.length;
    entries.forEach((entry, row) => entry.resolve(outcome.logits.subarray(row * classes, (row + 1) * classes)));
  }

  /**
   * Before traffic: runs `rounds` batches of each candidate size of `sample`, as many at once as
   * may run, so the batch size chooser starts from this pod's costs. Stops at the first size whose
   * batch overran the latency budget: larger ones would too.
   */
  async probeBatchSizes(sample: EncodedText, rounds: number): Promise<void> {
    const chooser = this.options.batchSize;
    if (!chooser) return;
    for (const size of chooser.candidates) {
      let slowestMs = 0;
      for (let round = 0; round < rounds; round++) {
        await Promise.all(
          Array.from({ length: this.options.concurrentBatches }, async () => {
            const batch = this.pad(Array.from({ length: size }, () => sample));
            const started = this.clock.now();
            const { runCpuSeconds } = await this.backend.run(batch);
            const ms = this.clock.now() - started;
            chooser.record({ size, tokens: size * sample.ids.length, paddedTokens: size * sample.ids.length, seconds: ms / 1000, runCpuSeconds });
            slowestMs = Math.max(slowestMs, ms);
          }),
        );
      }
      if (slowestMs > chooser.latencyBudgetMs) break;
    }
  }

  private pad(texts: EncodedText[]): Batch {
    const rows = texts.length;
    const columns = Math.max(...texts.map((encoded) => encoded.ids.length));
    const inputIds = new BigInt64Array(rows * columns).fill(BigInt(this.options.padTokenId));
    const attentionMask = new BigInt64Array(rows * columns);
    const tokenTypeIds = new BigInt64Array(rows * columns);
    texts.forEach((encoded, row) => {
      const offset = row * columns;
      for (let i = 0; i < encoded.ids.length; i++) {
        inputIds[offset + i] = BigInt(encoded.ids[i]!);
        attentionMask[offset + i] = 1n;
        tokenTypeIds[offset + i] = BigInt(encoded.typeIds[i] ?? 0);
      }
    });
    return { rows, columns, inputIds, attentionMask, tokenTypeIds };
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
