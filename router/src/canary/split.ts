/**
 * Which requests of a model take part in a canary step: `percent` of them, chosen by a counter
 * per model rather than at random, so that a step's share is exact over every 100 requests (a
 * step judged on a few hundred texts is not left to chance) and a test can count on it.
 * Request n is chosen when floor((n+1)·p/100) > floor(n·p/100), which spreads the chosen ones
 * evenly: 10% picks every tenth request, not the first ten of each hundred.
 */
export class Split {
  private readonly counters = new Map<string, number>();

  take(key: string, percent: number): boolean {
    const n = this.counters.get(key) ?? 0;
    // The counter wraps at 100: the pattern repeats every hundred requests and never overflows.
    this.counters.set(key, (n + 1) % 100);
    return Math.floor(((n + 1) * percent) / 100) > Math.floor((n * percent) / 100);
  }

  /** A model whose canary ended (or that is gone) starts afresh at its next one. */
  forget(key: string): void {
    this.counters.delete(key);
  }
}
