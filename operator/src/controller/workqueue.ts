/** The queue's view of time; tests pass a fake one and move it by hand. */
export interface Timers {
  now(): number;
  /** Calls fn once, ms from now; the returned function cancels the call. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface WorkQueueOptions {
  /** First retry delay after a failure; doubles with each further failure of the same key. */
  baseDelayMs: number;
  /** Cap on the retry delay, so a key broken for hours is still retried regularly. */
  maxDelayMs: number;
}

/**
 * A work queue of keys in the manner of client-go's: a key waiting in the queue is stored once
 * however often it is added; a key being processed is never handed to a second worker, and if it
 * is added meanwhile it is queued again once done() is called, so the newest state is always
 * reconciled. Failures back off per key, exponentially up to a cap, until forget().
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Added while processing: requeued by done(). */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Keys waiting for a delay, with when it ends. */
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private closed = false;

  constructor(private readonly opts: WorkQueueOptions, private readonly timers: Timers = realTimers) {}

  /** Keys waiting to be processed, for the depth metric. */
  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /**
   * Adds key after delayMs. As in client-go's delaying queue, a key waits once, for the sooner of
   * its delays: a quick retry is not held back by a long look-again already pending.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.timers.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.timers.after(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** Requeues a key that failed, after its backoff (at most `capMs`, when given); returns the delay chosen. */
  addRateLimited(key: string, capMs = this.opts.maxDelayMs): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.opts.baseDelayMs * 2 ** n, this.opts.maxDelayMs, capMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count after it succeeded. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, marked as processing; waits while the queue is empty; undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks key as processed; re-queues it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys: waiting get() calls resolve undefined; keys in flight may still call done(). */
  shutDown(): void {
    this.closed = true;
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
