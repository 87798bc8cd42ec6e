import { describe, expect, it } from 'vitest';
import { ResultCache } from './cache.js';

describe('ResultCache', () => {
  const counting = () => {
    const counts = { hits: 0, misses: 0 };
    return { counts, observer: { hit: () => counts.hits++, miss: () => counts.misses++ } };
  };

  it('serves exact repeats and counts hits and misses', () => {
    const { counts, observer } = counting();
    const cache = new ResultCache<{ v: number }>('rev1', { maxEntries: 10, ttlSeconds: 60 }, observer);
    expect(cache.get('good film')).toBeUndefined();
    cache.set('good film', { v: 1 });
    expect(cache.get('good film')).toEqual({ v: 1 });
    expect(cache.get('Good film')).toBeUndefined();
    expect(counts).toEqual({ hits: 1, misses: 2 });
  });

  it('keys by model revision so a new revision never serves an old answer', () => {
    const { observer } = counting();
    const old = new ResultCache<{ v: number }>('rev1', { maxEntries: 10, ttlSeconds: 60 }, observer);
    old.set('text', { v: 1 });
    const next = new ResultCache<{ v: number }>('rev2', { maxEntries: 10, ttlSeconds: 60 }, observer);
    expect(next.get('text')).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const { observer } = counting();
    const cache = new ResultCache<{ v: number }>('r', { maxEntries: 2, ttlSeconds: 60 }, observer);
    cache.set('a', { v: 1 });
    cache.set('b', { v: 2 });
    cache.get('a');
    cache.set('c', { v: 3 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual({ v: 1 });
    expect(cache.get('c')).toEqual({ v: 3 });
  });

  it('expires entries after ttlSeconds', () => {
    const clock = { t: 10_000, now: () => clock.t };
    const { observer } = counting();
    const cache = new ResultCache<{ v: number }>('r', { maxEntries: 10, ttlSeconds: 1 }, observer, clock);
    cache.set('a', { v: 1 });
    clock.t = 10_900;
    expect(cache.get('a')).toEqual({ v: 1 });
    clock.t = 11_500;
    expect(cache.get('a')).toBeUndefined();
  });
});
