import { createHash, type Hash } from 'node:crypto';
import { totalmem } from 'node:os';
import { LRUCache } from 'lru-cache';

export interface CacheOptions {
  maxEntries: number;
  /** Bound on the entries' estimated heap cost: digest key, value (per `sizeOf`) and bookkeeping. */
  maxBytes: number;
  ttlSeconds: number;
}

/** Heap cost of one entry beyond its value's numbers: the digest key, the LRU's bookkeeping, object headers (measured ~330 bytes with 2 labels). */
const ENTRY_OVERHEAD_BYTES = 300;
const FALLBACK_MAX_BYTES = 64 * 1024 ** 2;

/**
 * cache.maxBytes when the config leaves it out: a sixteenth of the container's memory limit
 * (cgroup v1 or v2, as libuv reads it), or 64 MiB where there is none.
 */
export function defaultCacheBytes(limit = process.constrainedMemory(), machine = totalmem()): number {
  return limit > 0 && limit < machine ? Math.max(1024 ** 2, Math.floor(limit / 16)) : FALLBACK_MAX_BYTES;
}

/**
 * Results of texts seen before, keyed by a digest of model revision and the exact text: a rollout
 * to a new revision never serves an old model's answer, and a long text costs its key 44
 * characters, not its length (the texts themselves were the keys once, and a flood of distinct
 * long texts filled the heap). Bounded by entries and by bytes, whichever is reached first.
 * Values are never mutated after insertion.
 */
export class ResultCache<V extends object> {
  private readonly lru: LRUCache<string, V>;
  private readonly revisionHash: Hash;

  constructor(
    revision: string,
    options: CacheOptions,
    private readonly observer: { hit(): void; miss(): void },
    sizeOf: (value: V) => number,
    clock: { now(): number } = performance,
  ) {
    // Length-prefixed, so no (revision, text) pair can collide with another's concatenation.
    this.revisionHash = createHash('sha256').update(`${revision.length}:${revision}`);
    this.lru = new LRUCache<string, V>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (value) => ENTRY_OVERHEAD_BYTES + sizeOf(value),
      ttl: options.ttlSeconds * 1000,
      ttlResolution: 0,
      perf: clock,
    });
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
    return this.revisionHash.copy().update(text).digest('base64');
  }
}
