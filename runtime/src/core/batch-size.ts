/** One executed batch as the chooser learns from it. */
export interface BatchCost {
  size: number;
  /**
   * The texts' own tokens, padding excluded: a larger batch pads more, and that waste must count
   * against it, since clients are served texts, not padded tokens.
   */
  tokens: number;
  seconds: number;
}

export interface BatchSizeOptions {
  /** Upper bound (batching.maxBatchSize); the chooser never goes above it. */
  maxBatchSize: number;
  /** A size whose batch is predicted to run longer than this is not chosen, however fast per text. */
  latencyBudgetMs: number;
}

/**
 * Sizes within this share of the best throughput count as equally fast; the smallest of them
 * wins because it answers sooner, and noise between close sizes does not flip the choice.
 */
const EQUAL_WITHIN = 0.05;
/** Weight of the newest batch in a size's running cost: recent enough to follow the pod's CPU, smooth enough to ignore one slow batch. */
const NEWEST_WEIGHT = 0.1;
/** Batches between two tries of a size next to the chosen one, so a size that became faster is noticed. */
export const EXPLORE_EVERY = 64;

/**
 * Picks the batch size that serves most texts per second on the hardware at hand instead of
 * always the largest allowed: on a small CPU a batch of 32 costs more per text than one of 8
 * (issue 13, raw onnxruntime: 213 vs 285 sentences/s), on a GPU larger batches win. It learns
 * the cost per text token (padding counts as cost, not as work) of each power-of-two size from
 * the batches that run (and from a probe at warm-up) and chooses the cheapest per text among the
 * sizes that fit the latency budget.
 */
export class BatchSizeChooser {
  /** 1, 2, 4, ... up to maxBatchSize, which is always a candidate itself. */
  readonly candidates: number[];
  /** Running milliseconds per text token, by candidate index; undefined until measured. */
  private readonly costs: (number | undefined)[];
  private tokensPerRow: number | undefined;
  private chosenIndex: number;
  private batchesSinceExplore = 0;
  private exploreUp = true;

  constructor(private readonly options: BatchSizeOptions) {
    const sizes: number[] = [];
    for (let size = 1; size < options.maxBatchSize; size *= 2) sizes.push(size);
    sizes.push(options.maxBatchSize);
    this.candidates = sizes;
    this.costs = sizes.map(() => undefined);
    // Until something is measured, behave as before: the configured bound.
    this.chosenIndex = sizes.length - 1;
  }

  get latencyBudgetMs(): number {
    return this.options.latencyBudgetMs;
  }

  /** The size the batcher prefers now (a metric and part of GET /v1/model). */
  get preferred(): number {
    return this.candidates[this.chosenIndex]!;
  }

  /**
   * Most rows the next batch may take: the preferred size, except now and then one size up or
   * down, so the neighbours' costs stay measured under the pod's current load.
   */
  nextLimit(): number {
    if (++this.batchesSinceExplore < EXPLORE_EVERY) return this.preferred;
    this.batchesSinceExplore = 0;
    this.exploreUp = !this.exploreUp;
    const neighbour = this.chosenIndex + (this.exploreUp ? 1 : -1);
    return this.candidates[Math.min(this.candidates.length - 1, Math.max(0, neighbour))]!;
  }

  record(batch: BatchCost): void {
    if (batch.size < 1 || batch.tokens < 1 || !(batch.seconds > 0)) return;
    // A batch of 5 is charged to size 4: between 4 and 8 the cost per token moves little.
    let index = 0;
    while (index + 1 < this.candidates.length && this.candidates[index + 1]! <= batch.size) index++;
    const cost = (batch.seconds * 1000) / batch.tokens;
    const previous = this.costs[index];
    this.costs[index] = previous === undefined ? cost : previous + NEWEST_WEIGHT * (cost - previous);
    const perRow = batch.tokens / batch.size;
    this.tokensPerRow = this.tokensPerRow === undefined ? perRow : this.tokensPerRow + NEWEST_WEIGHT * (perRow - this.tokensPerRow);
    this.choose();
  }

  private choose(): void {
    const tokensPerRow = this.tokensPerRow!;
    const fits = (index: number): boolean => index === 0 || this.candidates[index]! * tokensPerRow * this.costs[index]! <= this.options.latencyBudgetMs;
    const measured = this.costs.flatMap((cost, index) => (cost !== undefined && fits(index) ? [{ index, cost }] : []));
    if (measured.length === 0) return;
    const best = Math.min(...measured.map((m) => m.cost));
    this.chosenIndex = measured.find((m) => m.cost <= best * (1 + EQUAL_WITHIN))!.index;
  }
}
