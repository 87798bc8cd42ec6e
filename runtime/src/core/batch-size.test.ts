import { describe, expect, it } from 'vitest';
import { BatchSizeChooser, EXPLORE_EVERY } from './batch-size.js';

const COLUMNS = 25;

/**
 * Milliseconds one batch of `size` rows of 25 tokens takes under a cost model given as
 * milliseconds per text at each size (what the issue measured on the 2-core machine: a batch of
 * 32 costs more per text than one of 8).
 */
function runner(msPerText: (size: number) => number) {
  return (chooser: BatchSizeChooser, size: number): void => chooser.record({ size, tokens: size * COLUMNS, paddedTokens: size * COLUMNS, seconds: (size * msPerText(size)) / 1000, runCpuSeconds: (size * msPerText(size)) / 1000 });
}

const cpuLike = (size: number): number => ({ 1: 3.5, 2: 3.45, 4: 3.4, 8: 3.0, 16: 3.9, 32: 4.7 })[size] ?? 5;

describe('BatchSizeChooser', () => {
  it('starts at maxBatchSize and offers powers of two up to it', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 24, latencyBudgetMs: 50 });
    expect(chooser.candidates).toEqual([1, 2, 4, 8, 16, 24]);
    expect(chooser.preferred).toBe(24);
  });

  it('prefers the size that serves the most texts per second, not the largest', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
    const run = runner(cpuLike);
    for (const size of chooser.candidates) run(chooser, size);
    expect(chooser.preferred).toBe(8);
  });

  it('takes the largest batch on hardware where batches amortize, up to the latency budget', () => {
    // GPU-like: 4 ms per call whatever the size, plus a little per text.
    const run = runner((size) => 4 / size + 0.05);
    const generous = new BatchSizeChooser({ maxBatchSize: 128, latencyBudgetMs: 1000 });
    for (const size of generous.candidates) run(generous, size);
    expect(generous.preferred).toBe(128);
    // A batch of 64 takes 7.2 ms, of 128 10.4 ms: a 9 ms budget stops at 64.
    const tight = new BatchSizeChooser({ maxBatchSize: 128, latencyBudgetMs: 9 });
    for (const size of tight.candidates) run(tight, size);
    expect(tight.preferred).toBe(64);
  });

  it('takes the smallest of sizes that serve within 5% of the best, since it answers sooner', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
    const run = runner((size) => (size >= 4 ? 3.0 + size * 0.001 : 4));
    for (const size of chooser.candidates) run(chooser, size);
    expect(chooser.preferred).toBe(4);
  });

  it('charges a batch between two candidates to the smaller one', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
    const run = runner(cpuLike);
    run(chooser, 1);
    chooser.record({ size: 11, tokens: 11 * COLUMNS, paddedTokens: 11 * COLUMNS, seconds: (11 * 2) / 1000, runCpuSeconds: (11 * 2) / 1000 });
    expect(chooser.preferred).toBe(8);
  });

  it('ignores batches that measured nothing', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
    chooser.record({ size: 4, tokens: 100, paddedTokens: 100, seconds: 0, runCpuSeconds: 0 });
    chooser.record({ size: 0, tokens: 0, paddedTokens: 0, seconds: 1, runCpuSeconds: 1 });
    expect(chooser.preferred).toBe(32);
  });

  it('now and then tries a neighbouring size, and follows when the hardware changes', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
    for (const size of chooser.candidates) runner(cpuLike)(chooser, size);
    expect(chooser.preferred).toBe(8);
    const limits = Array.from({ length: 2 * EXPLORE_EVERY }, () => chooser.nextLimit());
    expect(limits.filter((limit) => limit !== 8).sort((a, b) => a - b)).toEqual([4, 16]);

    // The pod moves to a machine where 16 is clearly cheaper per text: the probes of 16 find it.
    const faster16 = runner((size) => (size === 16 ? 2.0 : cpuLike(size)));
    for (let batch = 0; batch < 20 * EXPLORE_EVERY && chooser.preferred !== 16; batch++) faster16(chooser, chooser.nextLimit());
    expect(chooser.preferred).toBe(16);
  });

  it('counts padding as cost: a size whose batches pad more serves fewer texts per second', () => {
    const chooser = new BatchSizeChooser({ maxBatchSize: 8, latencyBudgetMs: 1000 });
    // Per padded token a batch of 8 is the cheapest (0.08 ms against 0.1 alone), but it mixes
    // lengths and pads each row to 40 tokens for 25 of its own: per text it costs the most.
    chooser.record({ size: 1, tokens: 25, paddedTokens: 25, seconds: (25 * 0.1) / 1000, runCpuSeconds: (25 * 0.1) / 1000 });
    chooser.record({ size: 4, tokens: 4 * 25, paddedTokens: 4 * 27, seconds: (4 * 27 * 0.095) / 1000, runCpuSeconds: (4 * 27 * 0.095) / 1000 });
    chooser.record({ size: 8, tokens: 8 * 25, paddedTokens: 8 * 40, seconds: (8 * 40 * 0.08) / 1000, runCpuSeconds: (8 * 40 * 0.08) / 1000 });
    expect(chooser.preferred).toBe(1);
  });
  describe('padding allowance', () => {
    /** Runs of `rows` texts padded to `columns`, costing `overheadMs` plus `msPerToken` per padded token of CPU. */
    const run = (chooser: BatchSizeChooser, rows: number, columns: number, overheadMs: number, msPerToken: number): void =>
      chooser.record({ size: rows, tokens: rows * columns, paddedTokens: rows * columns, seconds: 0.01, runCpuSeconds: (overheadMs + msPerToken * rows * columns) / 1000 });

    it('is unlimited until batches of different sizes were measured', () => {
      const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      expect(chooser.paddingAllowance).toBe(Number.POSITIVE_INFINITY);
      for (let i = 0; i < 10; i++) run(chooser, 1, 25, 0.1, 0.02);
      expect(chooser.paddingAllowance).toBe(Number.POSITIVE_INFINITY);
    });

    it('is the per-run overhead in tokens: a few on a CPU, where each padded token costs nearly as much as a real one', () => {
      const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      // The 2-core machine's shape: ~0.1 ms per run and ~22 us per token (onnxruntime, BERT-mini).
      for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(chooser, rows, columns, 0.1, 0.022);
      expect(chooser.paddingAllowance).toBeCloseTo(0.1 / 0.022, 5);
    });

    it('is hundreds of tokens on a GPU-like cost, where a run costs the same whatever its size', () => {
      const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(chooser, rows, columns, 3, 0.005);
      expect(chooser.paddingAllowance).toBeCloseTo(600, 5);
      const flat = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(flat, rows, columns, 3, 0);
      expect(flat.paddingAllowance).toBe(Number.POSITIVE_INFINITY);
    });

    it('learns from small batches only, where cheaper large ones would read as a large overhead', () => {
      const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(chooser, rows, columns, 0.1, 0.022);
      for (let i = 0; i < 50; i++) run(chooser, 32, 25, 0.1, 0.015);
      expect(chooser.paddingAllowance).toBeCloseTo(0.1 / 0.022, 5);
    });

    it('follows the hardware: the newest batches outweigh old ones', () => {
      const chooser = new BatchSizeChooser({ maxBatchSize: 32, latencyBudgetMs: 1000 });
      for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(chooser, rows, columns, 0.1, 0.022);
      for (let i = 0; i < 100; i++) for (const rows of [1, 2, 4]) for (const columns of [12, 25, 40]) run(chooser, rows, columns, 1, 0.02);
      expect(chooser.paddingAllowance).toBeGreaterThan(40);
      expect(chooser.paddingAllowance).toBeLessThan(50);
    });
  });
});
