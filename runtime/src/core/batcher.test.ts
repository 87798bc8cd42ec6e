import { describe, expect, it } from 'vitest';
import type { Backend, Batch } from '../backends/backend.js';
import { Batcher, type BatchObserver } from './batcher.js';
import { BatchQueue, type QueueEntry } from './queue.js';

/** A backend that answers each row with [first token id, row length] and records every batch. */
class RecordingBackend implements Backend {
  readonly info = { executionProvider: 'cpu' as const, requestedProvider: 'cpu' as const, inputNames: ['input_ids', 'attention_mask'], numLabels: 2 };
  readonly batches: { rows: number; columns: number }[] = [];
  running = 0;
  maxRunning = 0;
  failWhen: (batch: Batch) => boolean = () => false;

  async run(batch: Batch): Promise<Float32Array> {
    this.batches.push({ rows: batch.rows, columns: batch.columns });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.running--;
    if (this.failWhen(batch)) throw new Error('boom');
    const out = new Float32Array(batch.rows * 2);
    for (let row = 0; row < batch.rows; row++) {
      let length = 0;
      for (let c = 0; c < batch.columns; c++) length += Number(batch.attentionMask[row * batch.columns + c]);
      out[row * 2] = Number(batch.inputIds[row * batch.columns]);
      out[row * 2 + 1] = length;
    }
    return out;
  }

  async close(): Promise<void> {}
}

const quietObserver: BatchObserver = { queueDepth: () => {}, batch: () => {}, dropped: () => {} };

function setup(options: { maxBatchSize?: number; maxBatchDelayMs?: number; concurrentBatches?: number; maxQueue?: number } = {}) {
  const backend = new RecordingBackend();
  const queue = new BatchQueue({ maxBatchSize: options.maxBatchSize ?? 4, maxBatchTokens: 10_000, maxQueue: options.maxQueue ?? 1000 });
  const batcher = new Batcher(queue, backend, { maxBatchSize: options.maxBatchSize ?? 4, maxBatchDelayMs: options.maxBatchDelayMs ?? 0, concurrentBatches: options.concurrentBatches ?? 1, padTokenId: 0 }, quietObserver);
  const submit = (firstIds: number[], length = 3): Promise<Float32Array[]> => {
    const entries: QueueEntry[] = [];
    const results = firstIds.map(
      (first) =>
        new Promise<Float32Array>((resolve, reject) => {
          const ids = [first, ...Array.from({ length: length - 1 }, () => 7)];
          entries.push({ encoded: { ids, typeIds: ids.map(() => 0), truncated: false, unknownRatio: 0 }, enqueuedAt: performance.now(), deadline: Number.POSITIVE_INFINITY, resolve, reject });
        }),
    );
    batcher.submit(entries);
    return Promise.all(results);
  };
  return { backend, batcher, submit };
}

describe('Batcher', () => {
  it('splits a large request across batches and reassembles answers in input order', async () => {
    const { backend, submit } = setup({ maxBatchSize: 4 });
    const ids = Array.from({ length: 10 }, (_, i) => 100 + i);
    const rows = await submit(ids);
    expect(rows.map((row) => row[0])).toEqual(ids);
    expect(backend.batches.map((b) => b.rows)).toEqual([4, 4, 2]);
  });

  it('batches requests that arrive together into one run', async () => {
    const { backend, submit } = setup({ maxBatchSize: 8 });
    await Promise.all([submit([1]), submit([2]), submit([3])]);
    expect(backend.batches).toEqual([{ rows: 3, columns: 3 }]);
  });

  it('pads each batch only to its own longest row and masks the padding', async () => {
    const { backend, submit } = setup({ maxBatchSize: 8 });
    const [short, long] = await Promise.all([submit([1], 3), submit([2], 6)]);
    expect(backend.batches).toEqual([{ rows: 2, columns: 6 }]);
    expect(short![0]![1]).toBe(3);
    expect(long![0]![1]).toBe(6);
  });

  it('lets the first text wait up to maxBatchDelayMs for company', async () => {
    const { backend, submit } = setup({ maxBatchSize: 8, maxBatchDelayMs: 40 });
    const first = submit([1]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = submit([2]);
    await Promise.all([first, second]);
    expect(backend.batches.map((b) => b.rows)).toEqual([2]);
  });

  it('does not wait for the delay once a batch is full', async () => {
    const { backend, submit } = setup({ maxBatchSize: 2, maxBatchDelayMs: 10_000 });
    const started = performance.now();
    await submit([1, 2]);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(backend.batches.map((b) => b.rows)).toEqual([2]);
  });

  it('runs one batch at a time by default and more when configured', async () => {
    const one = setup({ maxBatchSize: 1, concurrentBatches: 1 });
    await one.submit([1, 2, 3, 4]);
    expect(one.backend.maxRunning).toBe(1);
    const two = setup({ maxBatchSize: 1, concurrentBatches: 2 });
    await two.submit([1, 2, 3, 4]);
    expect(two.backend.maxRunning).toBe(2);
  });

  it('a failing batch rejects only its own texts; other batches are answered', async () => {
    const { backend, submit } = setup({ maxBatchSize: 1 });
    backend.failWhen = (batch) => Number(batch.inputIds[0]) === 666;
    const results = await Promise.allSettled([submit([1]), submit([666]), submit([3])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('idle() resolves once everything queued and running has finished', async () => {
    const { batcher, submit } = setup({ maxBatchSize: 1 });
    let answered = 0;
    void submit([1, 2, 3]).then(() => answered++);
    await batcher.idle();
    await Promise.resolve();
    expect(answered).toBe(1);
  });
});
