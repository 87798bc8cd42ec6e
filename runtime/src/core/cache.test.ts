import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { defaultCacheBytes, ResultCache } from './cache.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('ResultCache', () => {
  const counting = () => {
    const counts = { hits: 0, misses: 0 };
    return { counts, observer: { hit: () => counts.hits++, miss: () => counts.misses++ } };
  };
  const options = (overrides: { maxEntries?: number; maxBytes?: number; ttlSeconds?: number } = {}) => ({ maxEntries: 10, maxBytes: 1024 ** 2, ttlSeconds: 60, ...overrides });
  const sizeOf = () => 16;

  it('serves exact repeats and counts hits and misses', () => {
    const { counts, observer } = counting();
    const cache = new ResultCache<{ v: number }>('rev1', options(), observer, sizeOf);
    expect(cache.get('good film')).toBeUndefined();
    cache.set('good film', { v: 1 });
    expect(cache.get('good film')).toEqual({ v: 1 });
    expect(cache.get('Good film')).toBeUndefined();
    expect(counts).toEqual({ hits: 1, misses: 2 });
  });

  it('keys by model revision so a new revision never serves an old answer, and no revision+text concatenation collides', () => {
    const { observer } = counting();
    const old = new ResultCache<{ v: number }>('rev1', options(), observer, sizeOf);
    old.set('text', { v: 1 });
    const next = new ResultCache<{ v: number }>('rev2', options(), observer, sizeOf);
    expect(next.get('text')).toBeUndefined();
    const a = new ResultCache<{ v: number }>('ab', options(), observer, sizeOf);
    a.set('c', { v: 1 });
    expect(a.get('bc')).toBeUndefined();
    expect(a.get('c')).toEqual({ v: 1 });
  });

  it('holds a digest of each text, not the text: a flood of distinct long texts costs the heap little', () => {
    const { observer } = counting();
    const cache = new ResultCache<{ v: number }>('r', options({ maxEntries: 2000 }), observer, sizeOf);
    const long = 'x'.repeat(100_000);
    gc();
    const before = process.memoryUsage().heapUsed;
    // Flattened each time, as a body's parsed text would be: a fresh 100 kB string per entry.
    for (let i = 0; i < 2000; i++) cache.set(`${i}${long}`.normalize(), { v: i });
    gc();
    // The texts as keys would hold 2000 x 100 kB = 200 MB; digests hold well under 5 MB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 ** 2);
    expect(cache.get(`1999${long}`)).toEqual({ v: 1999 });
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const { observer } = counting();
    const cache = new ResultCache<{ v: number }>('r', options({ maxEntries: 2 }), observer, sizeOf);
    cache.set('a', { v: 1 });
    cache.set('b', { v: 2 });
    cache.get('a');
    cache.set('c', { v: 3 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual({ v: 1 });
    expect(cache.get('c')).toEqual({ v: 3 });
  });

  it('evicts the least recently used entries beyond maxBytes, however many entries maxEntries allows', () => {
    const { observer } = counting();
    // Each entry: ~300 bytes of overhead plus the 100 sizeOf gives it; 1 MiB holds about 2600.
    const cache = new ResultCache<{ v: number }>('r', options({ maxEntries: 1_000_000, maxBytes: 1024 ** 2 }), observer, () => 100);
    for (let i = 0; i < 10_000; i++) cache.set(String(i), { v: i });
    expect(cache.get('0')).toBeUndefined();
    expect(cache.get('9999')).toEqual({ v: 9999 });
    const kept = Array.from({ length: 10_000 }, (_, i) => cache.get(String(i))).filter(Boolean).length;
    expect(kept).toBeGreaterThan(2000);
    expect(kept).toBeLessThan(3000);
  });

  it('expires entries after ttlSeconds', () => {
    const clock = { t: 10_000, now: () => clock.t };
    const { observer } = counting();
    const cache = new ResultCache<{ v: number }>('r', options({ ttlSeconds: 1 }), observer, sizeOf, clock);
    cache.set('a', { v: 1 });
    clock.t = 10_900;
    expect(cache.get('a')).toEqual({ v: 1 });
    clock.t = 11_500;
    expect(cache.get('a')).toBeUndefined();
  });

  it('defaults maxBytes to a sixteenth of the container memory limit, or 64 MiB without one', () => {
    const machine = 32 * 1024 ** 3;
    expect(defaultCacheBytes(2 * 1024 ** 3, machine)).toBe(128 * 1024 ** 2);
    // libuv reports no limit as 0 or as a huge number (cgroup v1's "unlimited").
    expect(defaultCacheBytes(0, machine)).toBe(64 * 1024 ** 2);
    expect(defaultCacheBytes(2 ** 64, machine)).toBe(64 * 1024 ** 2);
    expect(defaultCacheBytes(8 * 1024 ** 2, machine)).toBe(1024 ** 2);
  });
});
