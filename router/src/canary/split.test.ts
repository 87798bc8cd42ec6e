import { describe, expect, it } from 'vitest';
import { Split } from './split.js';

describe('canary split', () => {
  it.each([1, 10, 33, 50, 99, 100])('takes exactly %i of every 100 requests', (percent) => {
    const split = new Split();
    for (let round = 0; round < 3; round++) {
      let taken = 0;
      for (let i = 0; i < 100; i++) if (split.take('ns/m', percent)) taken++;
      expect(taken).toBe(percent);
    }
  });

  it('spreads the chosen requests evenly, and counts each model on its own', () => {
    const split = new Split();
    const picks: number[] = [];
    for (let i = 0; i < 30; i++) {
      if (split.take('a/one', 10)) picks.push(i);
      split.take('a/two', 90);
    }
    expect(picks).toEqual([9, 19, 29]);
    const halves = Array.from({ length: 6 }, () => split.take('a/three', 50));
    expect(halves).toEqual([false, true, false, true, false, true]);
  });

  it('starts a forgotten model afresh', () => {
    const split = new Split();
    for (let i = 0; i < 5; i++) split.take('a/m', 10);
    split.forget('a/m');
    const picks = Array.from({ length: 10 }, () => split.take('a/m', 10));
    expect(picks.indexOf(true)).toBe(9);
  });
});
