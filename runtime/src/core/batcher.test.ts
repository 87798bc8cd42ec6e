import { describe, expect, it } from 'vitest';
import type { Backend, Batch, BatchOutput } from '../backends/backend.js';
import { BatchSizeChooser } from './batch-size.js';
import { Batcher, type BatchObserver, type BatcherClock } from './batcher.js';
import { BatchQueue, type QueueEntry } from './queue.js';

/** Time that moves only when the test says so; due timers fire in order as it passes them. */
class FakeClock implements BatcherClock {
  private t = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(callback: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.t + ms, callback });
    return this.nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    this.t += ms;
    const due = [...this.timers].filter(([, timer]) => timer.at <= this.t).sort(([, a], [, b]) => a.at - b.at);
    for (const [id, timer] of due) {
      this.timers.delete(id);
      timer.callback();
    }
  }
}

/** Lets the event loop run what is already due (the batcher dispatches on the next turn); no time passes. */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A backend that answers each row with [first token id, row length] and records every batch.
 * With `hold`, each run waits until the test calls one of `finishers`, so overlap is observable.
 */
class RecordingBackend implements Backend {
  readonly info = { executionProvider: 'cpu' as const, requestedProvider: 'cpu' as const, inputNames: ['input_ids', 'attention_mask'], numLabels: 2 };
  readonly batches: { rows: number; columns: number }[] = [];
  readonly finishers: (() => void)[] = [];
  hold = false;
  failWhen: (batch: Batch) => boolean = () => false;
  cpuSecondsPerToken = 1e-5;

  async run(batch: Batch): Promise<BatchOutput> {
    this.batches.push({ rows: batch.rows, columns: batch.columns });
    if (this.hold) await new Promise<void>((resolve) => this.finishers.push(resolve));
    if (this.failWhen(batch)) throw new Error('boom');
    const out = new Float32Array(batch.rows * 2);
    for (let row = 0; row < batch.rows; row++) {
      let length = 0;
      for (let c = 0; c < batch.columns; c++) length += Number(batch.attentionMask[row * batch.columns + c]);
      out[row * 2] = Number(batch.inputIds[row * batch.columns]);
      out[row * 2 + 1] = length;
    }
    return { logits: out, runCpuSeconds: this.cpuSecondsPerToken * batch.rows * batch.columns };
  }

  async close(): Promise<void> {}
}

const quietObserver: BatchObserver = { queueDepth: () => {}, batch: () => {}, dropped: () => {} };

function setup(options: { maxBatchSize?: number; maxBatchDelayMs?: number; concurrentBatches?: number } = {}) {
  const backend = new RecordingBackend();
  const clock = new FakeClock();
  const queue = new BatchQueue({ maxBatchSize: options.maxBatchSize ?? 4, maxBatchTokens: 10_000, maxQueue: 1000 });
  const batcher = new Batcher(queue, backend, { maxBatchSize: options.maxBatchSize ?? 4, maxBatchDelayMs: options.maxBatchDelayMs ?? 0, concurrentBatches: options.concurrentBatches ?? 1, padTokenId: 0 }, quietObserver, clock);
  const submit = (firstIds: number[], length = 3, deadline = Number.POSITIVE_INFINITY): Promise<Float32Array[]> => {
    const entries: QueueEntry[] = [];
    const results = firstIds.map(
      (first) =>
        new Promise<Float32Array>((resolve, reject) => {
          const ids = [first, ...Array.from({ length: length - 1 }, () => 7)];
          entries.push({ encoded: { ids, typeIds: ids.map(() => 0), truncated: false, unknownRatio: 0 }, enqueuedAt: clock.now(), deadline, resolve, reject });
        }),
    );
    batcher.submit(entries);
    return Promise.all(results);
  };
  return { backend, batcher, clock, submit };
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

  it('shares texts that arrive together among the idle sessions instead of giving one session all of them', async () => {
    const { backend, submit } = setup({ maxBatchSize: 8, concurrentBatches: 2 });
    backend.hold = true;
    const answers = submit([1, 2, 3, 4, 5, 6, 7]);
    await turns();
    expect(backend.batches.map((b) => b.rows)).toEqual([4, 3]);
    for (const finish of backend.finishers) finish();
    expect((await answers).map((row) => row[0])).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('pads each batch only to its own longest row and masks the padding', async () => {
    const { backend, submit } = setup({ maxBatchSize: 8 });
    const [short, long] = await Promise.all([submit([1], 3), submit([2], 6)]);
    expect(backend.batches).toEqual([{ rows: 2, columns: 6 }]);
    expect(short![0]![1]).toBe(3);
    expect(long![0]![1]).toBe(6);
  });

  it('lets the first text wait up to maxBatchDelayMs for company, and no longer', async () => {
    const { backend, clock, submit } = setup({ maxBatchSize: 8, maxBatchDelayMs: 40 });
    const first = submit([1]);
    await turns();
    clock.advance(10);
    const second = submit([2]);
    clock.advance(29);
    await turns();
    expect(backend.batches).toEqual([]);
    clock.advance(1);
    await Promise.all([first, second]);
    expect(backend.batches.map((b) => b.rows)).toEqual([2]);
  });

  it('does not wait for the delay once a batch is full', async () => {
    const { backend, submit } = setup({ maxBatchSize: 2, maxBatchDelayMs: 10_000 });
    const rows = submit([1, 2]);
    await turns();
    expect(backend.batches.map((b) => b.rows)).toEqual([2]);
    await rows;
  });

  it('drops a text whose deadline passes while it waits, without running it', async () => {
    const { backend, clock, submit } = setup({ maxBatchSize: 8, maxBatchDelayMs: 100 });
    const late = submit([1], 3, 50);
    clock.advance(100);
    await expect(late).rejects.toMatchObject({ kind: 'DeadlineExceeded' });
    expect(backend.batches).toEqual([]);
  });

  it('runs one batch at a time by default and more when configured', async () => {
    for (const concurrentBatches of [1, 2]) {
      const { backend, submit } = setup({ maxBatchSize: 1, concurrentBatches });
      backend.hold = true;
      const rows = submit([1, 2, 3, 4]);
      await turns();
      expect(backend.batches).toHaveLength(concurrentBatches);
      backend.finishers.shift()!();
      await turns();
      // Finishing one run starts exactly one more.
      expect(backend.batches).toHaveLength(concurrentBatches + 1);
      while (backend.batches.length < 4 || backend.finishers.length > 0) {
        backend.finishers.shift()?.();
        await turns();
      }
      expect((await rows).map((row) => row[0])).toEqual([1, 2, 3, 4]);
    }
  });

  it('a failing batch rejects only its own texts; other batches are answered', async () => {
    const { backend, submit } = setup({ maxBatchSize: 1 });
    backend.failWhen = (batch) => Number(batch.inputIds[0]) === 666;
    const results = await Promise.allSettled([submit([1]), submit([666]), submit([3])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('idle() resolves once everything queued and running has finished', async () => {
    const { backend, batcher, submit } = setup({ maxBatchSize: 1 });
    backend.hold = true;
    let answered = 0;
    void submit([1, 2, 3]).then(() => answered++);
    let idle = false;
    void batcher.idle().then(() => (idle = true));
    while (backend.batches.length < 3 || backend.finishers.length > 0) {
      await turns();
      expect(idle).toBe(false);
      backend.finishers.shift()?.();
    }
    await turns();
    expect([idle, answered]).toEqual([true, 1]);
  });
});

describe('Batcher with a batch size chooser', () => {
  /** Each run moves the fake clock by what the batch costs: per text, cheapest at 8 rows, as on a small CPU. */
  class CostModelBackend extends RecordingBackend {
    constructor(private readonly clock: FakeClock) {
      super();
    }

    override async run(batch: Batch): Promise<BatchOutput> {
      const msPerText = batch.rows <= 8 ? 3.5 - batch.rows * 0.05 : 3 + batch.rows * 0.06;
      this.clock.advance(batch.rows * msPerText * (batch.columns / 25));
      return super.run(batch);
    }
  }

  function chooserSetup(latencyBudgetMs: number, concurrentBatches = 2) {
    const clock = new FakeClock();
    const backend = new CostModelBackend(clock);
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs });
    const queue = new BatchQueue({ maxBatchSize: 32, maxBatchTokens: 10_000, maxQueue: 1000 });
    const batcher = new Batcher(queue, backend, { maxBatchSize: 32, maxBatchDelayMs: 0, concurrentBatches, padTokenId: 0, batchSize: chooser }, quietObserver, clock);
    const text = (first: number) => ({ ids: [first, ...Array.from({ length: 24 }, () => 7)], typeIds: Array.from({ length: 25 }, () => 0), truncated: false, unknownRatio: 0 });
    return { clock, backend, chooser, batcher, text, queue };
  }

  it('probes each size at warm-up, as many batches at once as may run, and prefers the cheapest per text', async () => {
    const { backend, chooser, batcher, text } = chooserSetup(1000);
    await batcher.probeBatchSizes(text(1), 2);
    expect(backend.batches.map((b) => b.rows)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 32]);
    expect(chooser.preferred).toBe(8);
  });

  it('stops probing at the first size whose batch overran the latency budget', async () => {
    // A batch of 8 takes ~25 ms, of 16 ~63 ms.
    const { backend, chooser, batcher, text } = chooserSetup(40, 1);
    await batcher.probeBatchSizes(text(1), 1);
    expect(Math.max(...backend.batches.map((b) => b.rows))).toBe(16);
    expect(chooser.preferred).toBe(8);
  });

  it('cuts batches at the preferred size when more texts wait', async () => {
    const { backend, batcher, text, clock } = chooserSetup(1000);
    await batcher.probeBatchSizes(text(1), 1);
    backend.batches.length = 0;
    const results = Array.from({ length: 40 }, (_, i) => new Promise<Float32Array>((resolve, reject) => batcher.submit([{ encoded: text(100 + i), enqueuedAt: clock.now(), deadline: Number.POSITIVE_INFINITY, resolve, reject }])));
    const rows = await Promise.all(results);
    expect(rows.map((row) => row[0])).toEqual(Array.from({ length: 40 }, (_, i) => 100 + i));
    // The first text leaves alone (the sessions were idle); the rest wait and leave 8 at a time.
    expect(backend.batches.map((b) => b.rows).filter((r) => r > 1).every((r) => r <= 8)).toBe(true);
    expect(backend.batches.some((b) => b.rows === 8)).toBe(true);
  });
});
