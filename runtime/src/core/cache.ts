import { LRUCache } from 'lru-cache';

/**
 * Results of texts seen before, keyed by model revision and the exact text, so a rollout to a
 * new revision never serves an old model's answer. Values are never mutated after insertion.
 */
export class ResultCache<V extends object> {
  private readonly lru: LRUCache<string, V>;

  constructor(
    private readonly revision: string,
    options: { maxEntries: number; ttlSeconds: number },
    private readonly observer: { hit(): void; miss(): void },
    clock: { now(): number } = performance,
  ) {
    this.lru = new LRUCache<string, V>({ max: options.maxEntries, ttl: options.ttlSeconds * 1000, ttlResolution: 0, perf: clock });
  }

  get(text: string): V | undefined {
    const value = this.lru.get(this.key(text));
    if (value === undefined) this.observer.miss();
    else this.observer.hit();
    return value;
  }

  set(text: string, value: V): void {
    this.lru.set(this.key(text), value);
  }

  private key(text: string): string {
    return `${this.revision}\u0000${text}`;
  }
}
