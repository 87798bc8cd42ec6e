import { describe, expect, it } from 'vitest';
import type { AutoscalingSettings } from './decide.js';
import { Reason } from './decide.js';
import { decideWithZero, recordActivity } from './idle.js';

const T0 = 1_700_000_000_000;
const settings: AutoscalingSettings = {
  minReplicas: 0, maxReplicas: 10, target: 10, stableWindowSeconds: 6, panicWindowSeconds: 2, panicThreshold: 2,
  scaleDownDelaySeconds: 30, maxScaleUpRate: 1000, maxScaleDownRate: 2, kafkaLag: { drainSeconds: 60 },
};
const one = (value: number | undefined) => new Map([['pod-0', value]]);

describe('recordActivity', () => {
  it('is active on a moved counter, a request in flight, a failed scrape, a new pod or no pod at all; idle otherwise', () => {
    const first = recordActivity(undefined, one(0), one(5), T0);
    expect(first.lastActiveAt).toBe(T0);
    expect(recordActivity(first, one(0), one(5), T0 + 1000).lastActiveAt).toBe(T0);
    expect(recordActivity(first, one(0), one(6), T0 + 1000).lastActiveAt).toBe(T0 + 1000);
    expect(recordActivity(first, one(1), one(5), T0 + 1000).lastActiveAt).toBe(T0 + 1000);
    expect(recordActivity(first, one(undefined), one(undefined), T0 + 1000).lastActiveAt).toBe(T0 + 1000);
    expect(recordActivity(first, new Map([['pod-1', 0]]), new Map([['pod-1', 5]]), T0 + 1000).lastActiveAt).toBe(T0 + 1000);
    expect(recordActivity(first, new Map(), new Map(), T0 + 1000).lastActiveAt).toBe(T0 + 1000);
  });
});

describe('decideWithZero', () => {
  const idleSince = (at: number) => ({ lastActiveAt: at, answered: new Map([['pod-0', 5]]) });

  it('goes to zero once idle for the delay, and not before', () => {
    const state = { metric: [], recommendations: [], desired: 1 };
    const input = { readyReplicas: 1, samples: one(0), settings, current: 1 };
    expect(decideWithZero(state, input, idleSince(T0), T0 + 29_000)).toMatchObject({ desiredReplicas: 1 });
    expect(decideWithZero(state, input, idleSince(T0), T0 + 30_000)).toMatchObject({ desiredReplicas: 0, reason: Reason.Idle, changed: true, state: { desired: 0 } });
  });

  it('never takes a loaded model below what its load needs', () => {
    const d = decideWithZero({ metric: [], recommendations: [], desired: 3 }, { readyReplicas: 3, samples: new Map([['a', 10], ['b', 10], ['c', 10]]), settings, current: 3 }, idleSince(T0 - 60_000), T0);
    expect(d.desiredReplicas).toBe(3);
  });

  it('stays at zero without pods, and keeps the size someone else woke it to while its first pod starts', () => {
    const asleep = { metric: [], recommendations: [], desired: 0 };
    expect(decideWithZero(asleep, { readyReplicas: 0, samples: new Map(), settings, current: 0 }, idleSince(T0 - 60_000), T0))
      .toMatchObject({ desiredReplicas: 0, reason: Reason.Idle, changed: false });
    const woken = decideWithZero(asleep, { readyReplicas: 0, samples: new Map(), settings, current: 1 }, idleSince(T0), T0);
    expect(woken).toMatchObject({ desiredReplicas: 1, reason: Reason.MetricsUnavailable, state: { desired: 1 } });
  });
});
