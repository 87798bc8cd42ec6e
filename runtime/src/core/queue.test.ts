import { describe, expect, it } from 'vitest';
import { BatchQueue, type QueueEntry } from './queue.js';

function entry(length: number, overrides: Partial<QueueEntry> = {}): QueueEntry {
  return {
    encoded: { ids: Array.from({ length }, (_, i) => i + 1), typeIds: new Array(length).fill(0), truncated: false, unknownRatio: 0 },
    enqueuedAt: 0,
    deadline: Number.POSITIVE_INFINITY,
    resolve: () => {},
    reject: () => {},
    ...overrides,
  };
}

const lengths = (entries: QueueEntry[]): number[] => entries.map((e) => e.encoded.ids.length);

describe('BatchQueue', () => {
  it('always takes the oldest entry first, so nothing starves', () => {
    const queue = new BatchQueue({ maxBatchSize: 2, maxBatchTokens: 10_000, maxQueue: 100 });
    queue.append([entry(100), entry(5), entry(6), entry(7)]);
    expect(lengths(queue.nextBatch(0)!.entries)[0]).toBe(100);
  });

  it('puts interactive texts before older background (stream) ones, which fill only the room left', () => {
    const queue = new BatchQueue({ maxBatchSize: 3, maxBatchTokens: 10_000, maxQueue: 100 });
    const background = { background: true };
    queue.append([entry(10, background), entry(11, background), entry(12, background), entry(50), entry(90)]);
    expect(lengths(queue.nextBatch(0)!.entries)).toEqual([50, 90, 12]);
    expect(lengths(queue.nextBatch(0)!.entries)).toEqual([10, 11]);
  });

  it('groups texts of similar length instead of padding short ones to the longest', () => {
    const queue = new BatchQueue({ maxBatchSize: 3, maxBatchTokens: 10_000, maxQueue: 100 });
    queue.append([entry(10), entry(120), entry(11), entry(118), entry(9), entry(121)]);
    expect(lengths(queue.nextBatch(0)!.entries).sort((a, b) => a - b)).toEqual([9, 10, 11]);
    expect(lengths(queue.nextBatch(0)!.entries).sort((a, b) => a - b)).toEqual([118, 120, 121]);
    expect(queue.nextBatch(0)).toBeUndefined();
  });

  it('respects the padded-token budget (rows x longest row)', () => {
    const queue = new BatchQueue({ maxBatchSize: 32, maxBatchTokens: 100, maxQueue: 100 });
    queue.append(Array.from({ length: 10 }, () => entry(30)));
    const batch = queue.nextBatch(0)!.entries;
    expect(batch).toHaveLength(3);
    expect(queue.size).toBe(7);
  });

  it('takes company only within the padding one more text may bring (its own row, or every row when it is the longest)', () => {
    const queue = new BatchQueue({ maxBatchSize: 32, maxBatchTokens: 10_000, maxQueue: 100 });
    queue.append([entry(25), entry(24), entry(27), entry(40), entry(12), entry(22)]);
    // 24 pads itself by 1; 27 then pads the two rows before it by 2 each (4); 22 pads itself by 5
    // and 40 or 12 by far more: with 4 allowed, 25 goes with 24 and 27.
    expect(lengths(queue.nextBatch(0, 32, 4)!.entries).sort((a, b) => a - b)).toEqual([24, 25, 27]);
    expect(lengths(queue.nextBatch(0, 32, 4)!.entries)).toEqual([40]);
    expect(lengths(queue.nextBatch(0, 32, 4)!.entries)).toEqual([12]);
    expect(lengths(queue.nextBatch(0, 32, 4)!.entries)).toEqual([22]);
    queue.append([entry(25), entry(24), entry(27), entry(40)]);
    expect(lengths(queue.nextBatch(0)!.entries).sort((a, b) => a - b)).toEqual([24, 25, 27, 40]);
  });

  it('still runs a single text longer than the token budget, alone', () => {
    const queue = new BatchQueue({ maxBatchSize: 32, maxBatchTokens: 16, maxQueue: 100 });
    queue.append([entry(64), entry(64)]);
    expect(queue.nextBatch(0)!.entries).toHaveLength(1);
    expect(queue.nextBatch(0)!.entries).toHaveLength(1);
  });

  it('caps rows at maxBatchSize', () => {
    const queue = new BatchQueue({ maxBatchSize: 4, maxBatchTokens: 100_000, maxQueue: 100 });
    queue.append(Array.from({ length: 10 }, () => entry(8)));
    expect(queue.nextBatch(0)!.entries).toHaveLength(4);
  });

  it('refuses beyond maxQueue with an Overloaded error and keeps what it had', () => {
    const queue = new BatchQueue({ maxBatchSize: 4, maxBatchTokens: 1000, maxQueue: 3 });
    queue.append([entry(4), entry(4)]);
    expect(() => queue.append([entry(4), entry(4)])).toThrow(expect.objectContaining({ kind: 'Overloaded', retryAfterSeconds: 1 }));
    expect(queue.size).toBe(2);
  });

  it('drops entries whose client left or whose deadline passed, before inference', () => {
    const queue = new BatchQueue({ maxBatchSize: 8, maxBatchTokens: 1000, maxQueue: 100 });
    const gone = new AbortController();
    gone.abort();
    queue.append([entry(5, { signal: gone.signal }), entry(5, { deadline: 10 }), entry(5)]);
    const next = queue.nextBatch(20)!;
    expect(next.entries).toHaveLength(1);
    expect(next.dropped.map((d) => d.error.kind).sort()).toEqual(['ClientGone', 'DeadlineExceeded']);
    expect(queue.size).toBe(0);
  });
});
