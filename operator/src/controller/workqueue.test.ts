import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './workqueue.js';

const newQueue = () => new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });

describe('WorkQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stores a waiting key once however often it is added, in first-added order', async () => {
    const q = newQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b']) q.add(key);
    expect(q.length).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
  });

  it('never hands a key in processing to a second worker, and requeues it once after done()', async () => {
    const q = newQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined = 'pending';
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBe('pending');
    q.done(key!);
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = newQueue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
  });

  it('backs off exponentially per key up to the cap, and forget() resets it', () => {
    const q = newQueue();
    const delays = Array.from({ length: 6 }, () => {
      const d = q.addRateLimited('k');
      vi.runAllTimers();
      return d;
    });
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.addRateLimited('other')).toBe(100);
    q.forget('k');
    expect(q.numFailures('k')).toBe(0);
    expect(q.addRateLimited('k')).toBe(100);
  });

  it('adds a rate-limited key only when its delay has passed', async () => {
    const q = newQueue();
    q.addRateLimited('k');
    q.addRateLimited('k');
    vi.advanceTimersByTime(99);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
  });

  it('ends waiting workers and drops pending keys on shutDown()', async () => {
    const q = newQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('late');
    q.addAfter('later', 10);
    vi.runAllTimers();
    expect(await q.get()).toBeUndefined();
  });

  it('keeps concurrent workers on distinct keys', async () => {
    vi.useRealTimers();
    const q = newQueue();
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (let key = await q.get(); key !== undefined; key = await q.get()) {
        if (active.has(key)) overlaps++;
        active.add(key);
        await new Promise((r) => setTimeout(r, 1));
        if (processed++ < 40) q.add(`k${processed % 3}`);
        active.delete(key);
        q.done(key);
      }
    };
    for (let i = 0; i < 3; i++) q.add(`k${i}`);
    const workers = Array.from({ length: 4 }, worker);
    while (processed < 40 || q.length > 0) await new Promise((r) => setTimeout(r, 5));
    q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
  });
});
