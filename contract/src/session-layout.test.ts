import { describe, expect, it } from 'vitest';
import { sessionLayout } from './session-layout.js';

describe('sessionLayout', () => {
  it.each([
    [1, 1, { sessions: 1, intraOpThreads: 1 }],
    [2, 1, { sessions: 2, intraOpThreads: 2 }],
    [2.5, 1, { sessions: 2, intraOpThreads: 2 }],
    [3, 1, { sessions: 3, intraOpThreads: 2 }],
    [0.5, 1, { sessions: 1, intraOpThreads: 1 }],
    [16, 1, { sessions: 4, intraOpThreads: 8 }],
    [8, 2, { sessions: 4, intraOpThreads: 2 }],
    [2, 4, { sessions: 1, intraOpThreads: 1 }],
  ])('derives %d cores shared by %d processes as %j', (cores, processes, layout) => {
    expect(sessionLayout(cores, processes, { sessions: 0, intraOpThreads: 0 })).toEqual(layout);
  });

  it('keeps what is configured and fills the rest from the cores', () => {
    expect(sessionLayout(8, 1, { sessions: 0, intraOpThreads: 4 })).toEqual({ sessions: 2, intraOpThreads: 4 });
    expect(sessionLayout(8, 1, { sessions: 2, intraOpThreads: 0 })).toEqual({ sessions: 2, intraOpThreads: 8 });
    expect(sessionLayout(8, 1, { sessions: 8, intraOpThreads: 0 })).toEqual({ sessions: 8, intraOpThreads: 2 });
    expect(sessionLayout(2, 1, { sessions: 3, intraOpThreads: 5 })).toEqual({ sessions: 3, intraOpThreads: 5 });
  });
});
