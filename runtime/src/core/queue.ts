import { RuntimeError } from './errors.js';
import type { EncodedText } from './tokenizer.js';

export interface QueueEntry {
  encoded: EncodedText;
  enqueuedAt: number;
  deadline: number;
  signal?: AbortSignal | undefined;
  /** Stream texts: batched only with the room interactive (HTTP) texts leave, so a backlog never delays a request. */
  background?: boolean | undefined;
  resolve: (logits: Float32Array) => void;
  reject: (error: Error) => void;
}

export interface QueueLimits {
  maxBatchSize: number;
  maxBatchTokens: number;
  maxQueue: number;
}

export interface NextBatch {
  entries: QueueEntry[];
  /** Entries removed without inference: their client left or their deadline passed. */
  dropped: { entry: QueueEntry; error: RuntimeError }[];
}

/**
 * Bounded queue of single texts with the batching policy. Synchronous and clock-free (time is
 * passed in) so the policy is testable without a model: the oldest text always goes next, so
 * nothing starves, and it takes company of the closest lengths that fit the size, padded-token
 * and per-text padding budgets, so short texts are not padded to the longest in the queue. Interactive
 * texts come before background ones: the oldest interactive text anchors the batch while there is one.
 */
export class BatchQueue {
  private entries: QueueEntry[] = [];

  constructor(private readonly limits: QueueLimits) {}

  get size(): number {
    return this.entries.length;
  }

  get oldestEnqueuedAt(): number | undefined {
    return this.entries[0]?.enqueuedAt;
  }

  /** Room check without appending, so callers can refuse before spending work on tokenization. */
  ensureRoom(count: number): void {
    if (this.entries.length + count > this.limits.maxQueue) {
      throw new RuntimeError('Overloaded', `queue is full (${this.entries.length} of ${this.limits.maxQueue} texts waiting)`, 1);
    }
  }

  append(entries: QueueEntry[]): void {
    this.ensureRoom(entries.length);
    this.entries.push(...entries);
  }

  /**
   * `maxRows` narrows maxBatchSize for this batch (the size the batcher prefers now);
   * `maxPaddingPerText` is the most padding one more text may bring into it (its own row's and,
   * when it is the longest, every other row's).
   */
  nextBatch(now: number, maxRows = this.limits.maxBatchSize, maxPaddingPerText = Number.POSITIVE_INFINITY): NextBatch | undefined {
    const dropped: NextBatch['dropped'] = [];
    const live: QueueEntry[] = [];
    for (const entry of this.entries) {
      if (entry.signal?.aborted) dropped.push({ entry, error: new RuntimeError('ClientGone', 'client disconnected before inference') });
      else if (entry.deadline <= now) dropped.push({ entry, error: new RuntimeError('DeadlineExceeded', 'request deadline passed while queued') });
      else live.push(entry);
    }
    this.entries = live;
    const anchor = live.find((entry) => !entry.background) ?? live[0];
    if (!anchor) return dropped.length > 0 ? { entries: [], dropped } : undefined;

    const anchorLength = anchor.encoded.ids.length;
    const rank = (entry: QueueEntry): number => (entry.background ? 1 : 0);
    const candidates = live
      .map((entry, age) => ({ entry, age, distance: Math.abs(entry.encoded.ids.length - anchorLength) }))
      .filter(({ entry }) => entry !== anchor)
      .sort((a, b) => rank(a.entry) - rank(b.entry) || a.distance - b.distance || a.age - b.age);

    const chosen = new Set<QueueEntry>([anchor]);
    let longest = anchorLength;
    for (const { entry } of candidates) {
      if (chosen.size >= Math.min(maxRows, this.limits.maxBatchSize)) break;
      const length = entry.encoded.ids.length;
      const width = Math.max(longest, length);
      if (width * (chosen.size + 1) > this.limits.maxBatchTokens) continue;
      if (width * (chosen.size + 1) - longest * chosen.size - length > maxPaddingPerText) continue;
      chosen.add(entry);
      longest = width;
    }
    this.entries = live.filter((entry) => !chosen.has(entry));
    return { entries: [...chosen], dropped };
  }
}
