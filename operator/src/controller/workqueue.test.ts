import { describe, expect, it } from 'vitest';
import { WorkQueue, type Timers } from './workqueue.js';

/** Time that moves only when the test says so; due calls run in the order of their times. */
class FakeTimers implements Timers {
  private time = 0;
  private readonly calls = new Set<{ at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    const call = { at: this.time + ms, fn };
    this.calls.add(call);
    return () => this.calls.delete(call);
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = [...this.calls].filter((c) => c.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.calls.delete(next);
      this.time = next.at;
      next.fn();
    }
    this.time = until;
  }
}

const newQueue = () => {
  const timers = new FakeTimers();
  return { q: new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 }, timers), timers };
};

/** Lets promise callbacks (a worker's await) run; no time passes. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  it('stores a waiting key once however often it is added, in first-added order', async () => {
    const { q } = newQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b']) q.add(key);
    expect(q.length).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
  });

  it('never hands a key in processing to a second worker, and requeues it once after done()', async () => {
    const { q } = newQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined = 'pending';
    void q.get().then((k) => (second = k));
    await settle();
    expect(second).toBe('pending');
    q.done(key!);
    await settle();
    expect(second).toBe('a');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { q } = newQueue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
  });

  it('backs off exponentially per key up to the cap, and forget() resets it', () => {
    const { q, timers } = newQueue();
    const delays = Array.from({ length: 6 }, () => {
      const d = q.addRateLimited('k');
      timers.advance(d);
      return d;
    });
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.addRateLimited('other')).toBe(100);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(100);
  });

  it('holds a retry to a lower cap when the caller gives one, still counting the failure', () => {
    const { q, timers } = newQueue();
    const delays = Array.from({ length: 5 }, () => {
      const d = q.addRateLimited('k', 300);
      timers.advance(d);
      return d;
    });
    expect(delays).toEqual([100, 200, 300, 300, 300]);
    expect(q.addRateLimited('k')).toBe(1000);
  });

  it('adds a rate-limited key only when its delay has passed', async () => {
    const { q, timers } = newQueue();
    q.addRateLimited('k');
    q.addRateLimited('k');
    timers.advance(99);
    expect(q.length).toBe(0);
    timers.advance(1);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
  });

  it('lets a sooner delay replace a later one pending for the same key, as client-go does', async () => {
    const { q, timers } = newQueue();
    q.addAfter('k', 12_000); // the reconciler looking again once the scheduler has settled
    q.addRateLimited('k'); // a failure's retry, 100 ms
    timers.advance(100);
    expect(q.length).toBe(1);
    q.done((await q.get())!);
    // The later delay was dropped, not kept beside the sooner one.
    timers.advance(20_000);
    expect(q.length).toBe(0);
  });

  it('keeps the sooner delay when a later one comes second', () => {
    const { q, timers } = newQueue();
    q.addAfter('k', 250);
    q.addAfter('k', 12_000);
    timers.advance(250);
    expect(q.length).toBe(1);
  });

  it('ends waiting workers and drops pending keys on shutDown()', async () => {
    const { q, timers } = newQueue();
    const waiting = q.get();
    q.addAfter('later', 10);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('late');
    q.addAfter('later still', 10);
    timers.advance(100);
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('keeps concurrent workers on distinct keys', async () => {
    const { q } = newQueue();
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const worker = async () => {
      for (let key = await q.get(); key !== undefined; key = await q.get()) {
        if (active.has(key)) overlaps++;
        active.add(key);
        // Hands the turn to the other workers mid-reconcile, as an API call would.
        await settle();
        processed++;
        if (processed <= 40) q.add(`k${processed % 3}`);
        active.delete(key);
        q.done(key);
        if (processed >= 40 && q.length === 0) finish();
      }
    };
    for (let i = 0; i < 3; i++) q.add(`k${i}`);
    const workers = Array.from({ length: 4 }, worker);
    await finished;
    q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    expect(processed).toBeGreaterThanOrEqual(40);
  });
});
