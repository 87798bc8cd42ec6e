/** One executed batch as the chooser learns from it. */
export interface BatchCost {
  size: number;
  /**
   * The texts' own tokens, padding excluded: a larger batch pads more, and that waste must count
   * against it, since clients are served texts, not padded tokens.
   */
  tokens: number;
  /** Rows x longest row: what the session actually computed. */
  paddedTokens: number;
  /** From leaving the queue to the answer: what a batch of this size costs the batcher. */
  seconds: number;
  /** CPU time of the session's run: what the padding allowance is learned from. */
  runCpuSeconds: number;
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
 * Weight of the newest batch in the fit of run CPU time against padded tokens: about the last 200
 * batches count, since one run's CPU time is coarse (see onnx-worker.ts).
 */
const FIT_WEIGHT = 0.005;
/**
 * Only batches this small enter the fit: the allowance decides whether a text joins a small batch
 * or runs alone, and on a CPU large batches cost a little less per token (better-shaped matrix
 * products), which would read as a fixed overhead ten times too large.
 */
const FIT_MAX_ROWS = 4;
/** Below this spread of padded tokens (coefficient of variation) the batches say nothing about the slope. */
const MIN_SPREAD = 0.1;

/**
 * Picks the batch size that serves most texts per second on the hardware at hand instead of
 * always the largest allowed: on a small CPU a batch of 32 costs more per text than one of 8
 * (issue 13, raw onnxruntime: 213 vs 285 sentences/s), on a GPU larger batches win. It learns
 * the cost per text token (padding counts as cost, not as work) of each power-of-two size from
 * the batches that run (and from a probe at warm-up) and chooses the cheapest per text among the
 * sizes that fit the latency budget. From the same batches it learns how much padding a text may
 * bring into a batch (paddingAllowance).
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
  /** Exponentially weighted sums for the line seconds = overhead + perToken x paddedTokens. */
  private readonly fit = { weight: 0, x: 0, y: 0, xx: 0, xy: 0 };
  private allowance = Number.POSITIVE_INFINITY;

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
   * Padding tokens one more text may bring into a batch and still cost less than a batch of its
   * own: a session's run costs a fixed overhead (per-run setup, per-operator dispatch, kernel
   * launches) plus a cost per padded token, and a text that would pad more than the overhead is
   * worth runs slower in company. On a small CPU the overhead is a few tokens' worth (SST-2 texts of
   * 12 to 55 tokens mixed freely were padded by a third at 8 clients); on a GPU it is hundreds.
   * Unlimited until measured.
   */
  get paddingAllowance(): number {
    return this.allowance;
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
    if (batch.size <= FIT_MAX_ROWS && batch.paddedTokens >= batch.tokens && batch.runCpuSeconds > 0) this.fitOverhead(batch.paddedTokens, batch.runCpuSeconds);
  }

  private fitOverhead(paddedTokens: number, seconds: number): void {
    const fit = this.fit;
    const keep = 1 - FIT_WEIGHT;
    fit.weight = keep * fit.weight + 1;
    fit.x = keep * fit.x + paddedTokens;
    fit.y = keep * fit.y + seconds;
    fit.xx = keep * fit.xx + paddedTokens * paddedTokens;
    fit.xy = keep * fit.xy + paddedTokens * seconds;
    const meanX = fit.x / fit.weight;
    const meanY = fit.y / fit.weight;
    const varianceX = fit.xx / fit.weight - meanX * meanX;
    if (!(varianceX > (MIN_SPREAD * meanX) ** 2)) return;
    const perToken = (fit.xy / fit.weight - meanX * meanY) / varianceX;
    // A batch that costs no more for more tokens (to rounding) has nothing to lose by padding.
    if (!(perToken * meanX > 1e-9 * meanY)) {
      this.allowance = Number.POSITIVE_INFINITY;
      return;
    }
    this.allowance = Math.max(0, (meanY - perToken * meanX) / perToken);
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
