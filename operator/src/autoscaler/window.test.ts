import { describe, expect, it } from 'vitest';
import type { MaxWindow, MetricWindow } from '../api/v1alpha1/index.js';
import { average, record, recordMax } from './window.js';

const T0 = 1_700_000_000_000;
const at = (seconds: number) => T0 + seconds * 1000;

function fill(values: [seconds: number, value: number][], keep = 60): MetricWindow {
  return values.reduce<MetricWindow>((w, [s, v]) => record(w, at(s), v, keep), []);
}

describe('metric window', () => {
  it('averages the last N seconds, each second weighing the same', () => {
    const w = fill([
      [0, 10],
      [1, 20],
      [2, 30],
      [3, 40],
    ]);
    expect(average(w, at(3), 2)).toBe(35);
    expect(average(w, at(3), 60)).toBe(25);
  });

  it('averages several observations within one second before weighing that second', () => {
    const w = fill([
      [0, 0],
      [1, 10],
      [1.5, 30],
    ]);
    expect(w).toHaveLength(2);
    expect(average(w, at(1.5), 2)).toBe(10);
  });

  it('skips seconds without data instead of reading them as zero', () => {
    const w = fill([
      [0, 12],
      [10, 12],
      [20, 12],
    ]);
    expect(average(w, at(20), 30)).toBe(12);
    expect(average(w, at(25), 3)).toBeUndefined();
  });

  it('keeps only the seconds it was asked to keep', () => {
    const w = fill(
      Array.from({ length: 100 }, (_, i): [number, number] => [i, i]),
      10,
    );
    expect(w).toHaveLength(10);
    expect(w[0]!.at).toBe(at(90));
  });

  it('merges into the newest second when the clock steps back', () => {
    const w = fill([
      [5, 10],
      [3, 30],
    ]);
    expect(w).toEqual([{ at: at(5), sum: 40, n: 2 }]);
  });
});

describe('max window', () => {
  function replay(values: [seconds: number, value: number][], window = 30): { window: MaxWindow; max: number }[] {
    let w: MaxWindow = [];
    return values.map(([s, v]) => {
      const r = recordMax(w, at(s), v, window);
      w = r.window;
      return r;
    });
  }

  it('returns the largest value of the last N seconds', () => {
    const maxes = replay([
      [0, 5],
      [10, 3],
      [29, 1],
      [30, 2],
      [40, 1],
    ]).map((r) => r.max);
    expect(maxes).toEqual([5, 5, 5, 3, 2]);
  });

  it('keeps only entries that can still be the maximum', () => {
    const steps = replay(Array.from({ length: 300 }, (_, i): [number, number] => [i, 10 + (i % 3)]));
    expect(steps.at(-1)!.window.length).toBeLessThanOrEqual(3);
  });

  it('with no delay is just the latest value', () => {
    expect(
      replay(
        [
          [0, 9],
          [1, 1],
        ],
        0,
      ).map((r) => r.max),
    ).toEqual([9, 1]);
  });
});
