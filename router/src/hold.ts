import { RouterError } from './http/errors.js';

export interface HoldOptions {
  timeoutMs: number;
  maxRequests: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: RouterError) => void;
}

/** Seconds a client is told to wait after a hold ran out: the model is still coming up. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Requests for a model that has no ready replica wait here, bounded per model in number
 * (beyond it: 429 at once) and in time (then 503 with Retry-After), and are let go together when
 * a replica turns ready. The body of a held request stays unread in the socket meanwhile.
 */
export class Holds {
  private readonly waiting = new Map<string, Set<Waiter>>();

  constructor(private readonly opts: HoldOptions) {}

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  count(key: string): number {
    return this.waiting.get(key)?.size ?? 0;
  }

  /** Resolves once release(key) is called; rejects when the hold is full, runs out (after `timeoutMs`, by default the configured one), or the client leaves. */
  wait(key: string, signal: AbortSignal, timeoutMs = this.opts.timeoutMs): Promise<void> {
    let waiters = this.waiting.get(key);
    if ((waiters?.size ?? 0) >= this.opts.maxRequests) {
      return Promise.reject(new RouterError('Overloaded', `model ${key} has no ready replica and ${this.opts.maxRequests} requests already wait for one`, 1));
    }
    if (!waiters) this.waiting.set(key, (waiters = new Set()));
    const set = waiters;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(waiter);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
      };
      const waiter: Waiter = {
        resolve: () => { done(); resolve(); },
        reject: (error) => { done(); reject(error); },
      };
      const timer = setTimeout(() => waiter.reject(new RouterError(
        'NoReadyReplica', `model ${key} has no ready replica after ${this.opts.timeoutMs} ms`, RETRY_AFTER_SECONDS,
      )), Math.max(0, timeoutMs));
      const onAbort = () => waiter.reject(new RouterError('ClientGone', 'client closed the request while it was held'));
      signal.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  /** Lets every request held for the model go. */
  release(key: string): void {
    for (const waiter of [...(this.waiting.get(key) ?? [])]) waiter.resolve();
  }

  /** Answers every request held for the model with `error` (it was deleted). */
  fail(key: string, error: RouterError): void {
    for (const waiter of [...(this.waiting.get(key) ?? [])]) waiter.reject(error);
  }
}
