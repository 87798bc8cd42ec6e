import { describe, expect, it } from 'vitest';
import { type LagInput, type LagWindows, lagDemand, producedRates } from './lag.js';

const T0 = 1_700_000_000_000;
const EMPTY: LagWindows = { rate: [], lag: [], produced: [] };
const OPTS = { drainSeconds: 60, stableWindowSeconds: 60, readyReplicas: 1, previous: 1 };

describe('producedRates', () => {
  it('measures records/s per consuming pod from the produced counters between ticks', () => {
    const last = new Map([['a', { at: T0, total: 1000 }], ['b', { at: T0, total: 5000 }], ['idle', { at: T0, total: 0 }]]);
    const { rates, counts } = producedRates(new Map([
      ['a', { assigned: 6, produced: 2000 }],
      ['b', { assigned: 6, produced: 5600 }],
      // More consumers than partitions: this one holds none, and its zero rate must not halve the others'.
      ['idle', { assigned: 0, produced: 0 }],
    ]), last, T0 + 2000);
    expect(rates).toEqual({ perReplicaRate: 400, producedPerSecond: 800 });
    expect(counts.get('a')).toEqual({ at: T0 + 2000, total: 2000 });
  });

  it('yields no rate for a restarted process, a first sample or a silent pod', () => {
    const last = new Map([['a', { at: T0, total: 9000 }]]);
    const { rates, counts } = producedRates(new Map([['a', { assigned: 1, produced: 20 }], ['new', { assigned: 1, produced: 7 }], ['gone', undefined]]), last, T0 + 1000);
    expect(rates).toEqual({});
    expect([...counts.keys()]).toEqual(['a', 'new']);
  });
});

describe('lagDemand', () => {
  const input = (lag: number, perReplicaRate?: number, extra: Partial<LagInput> = {}): LagInput => ({
    lag, ...(perReplicaRate !== undefined ? { perReplicaRate, producedPerSecond: perReplicaRate } : {}), partitions: 12, ...extra,
  });

  it('drains a backlog within the target: lag 60,000 at 500 records/s per replica in 60 s is 2 replicas', () => {
    const d = lagDemand(EMPTY, input(60_000, 500), OPTS, T0);
    expect(d).toMatchObject({ replicas: 2, rate: 500, drivenBy: 'backlog' });
    expect(lagDemand(EMPTY, input(60_001, 500), OPTS, T0).replicas).toBe(3);
    expect(lagDemand(EMPTY, input(60_000, 500), { ...OPTS, drainSeconds: 30 }, T0).replicas).toBe(4);
  });

  it('asks for no more replicas than the input topic has partitions', () => {
    expect(lagDemand(EMPTY, input(600_000, 500), OPTS, T0).replicas).toBe(12);
    expect(lagDemand(EMPTY, input(600_000, 500, { partitions: 3 }), OPTS, T0).replicas).toBe(3);
  });

  it('asks for nothing when there is no lag and no flow', () => {
    expect(lagDemand(EMPTY, input(0, 500), { ...OPTS, readyReplicas: 4, previous: 4 }, T0).replicas).toBe(0);
    expect(lagDemand(EMPTY, input(0), { ...OPTS, readyReplicas: 4, previous: 4 }, T0).replicas).toBe(0);
  });

  it('keeps the running replicas while a backlog remains', () => {
    // 20,000 left at 500/s would be one replica's minute, but the backlog is not gone yet.
    expect(lagDemand(EMPTY, input(20_000, 500), { ...OPTS, readyReplicas: 4, previous: 4 }, T0).replicas).toBe(4);
    // Under 5 s of work for the 4 replicas counts as drained.
    expect(lagDemand(EMPTY, input(9_000, 500), { ...OPTS, readyReplicas: 4, previous: 4 }, T0).replicas).toBe(0);
  });

  it('counts as near zero only what drains within the drain target: a fast replica\'s 11,000 records are a backlog when asked to drain in 3 s', () => {
    // 2,500/s on one replica clears 11,000 in 4.4 s: under the 5 s noise horizon, over the 3 s target.
    const fast = lagDemand(EMPTY, input(11_000, 2_500), { ...OPTS, drainSeconds: 3, readyReplicas: 1, previous: 1 }, T0);
    expect(fast).toMatchObject({ replicas: 2, drivenBy: 'backlog', rate: 2_500 });
    // Its capacity is recorded, so it is still known once the replicas are gone.
    expect(fast.windows.rate).toEqual([{ at: T0, sum: 2_500, n: 1 }]);
    // With a 60 s target the same lag is within the 5 s horizon: drained.
    expect(lagDemand(EMPTY, input(11_000, 2_500), { ...OPTS, readyReplicas: 1, previous: 1 }, T0)).toMatchObject({ replicas: 0, drivenBy: 'idle' });
  });

  it('wakes a model at zero replicas for any lag, since nothing else will consume it', () => {
    // Remembered capacity 500/s: 10 records are far under 5 s of one replica's work, yet no replica runs.
    const remembered: LagWindows = { rate: [{ at: T0 - 3_600_000, sum: 500, n: 1 }], lag: [], produced: [] };
    expect(lagDemand(remembered, input(10), { ...OPTS, readyReplicas: 0, previous: 0 }, T0)).toMatchObject({ replicas: 1, drivenBy: 'backlog', rate: 500 });
    // ...and sizes a large backlog from that capacity at once: 240,000 / 60 s / 500/s.
    expect(lagDemand(remembered, input(240_000), { ...OPTS, readyReplicas: 0, previous: 0 }, T0).replicas).toBe(8);
  });

  it('asks for one replica while lag exists but no rate was ever measured, and keeps those running', () => {
    expect(lagDemand(EMPTY, input(60_000), { ...OPTS, readyReplicas: 0, previous: 0 }, T0))
      .toEqual({ replicas: 1, drivenBy: 'backlog', windows: { rate: [], lag: [{ at: T0, sum: 60_000, n: 1 }], produced: [] } });
    expect(lagDemand(EMPTY, input(60_000), { ...OPTS, readyReplicas: 2, previous: 2 }, T0).replicas).toBe(2);
  });

  it('takes a replica\'s capacity only from seconds with a backlog, not from a replica that keeps up', () => {
    let windows = EMPTY;
    // Busy: 500/s each is what a replica manages.
    for (let s = 0; s < 10; s++) windows = lagDemand(windows, input(60_000, 500), OPTS, T0 + s * 1000).windows;
    // Keeping up with a trickle of 20/s: not recorded as capacity.
    const d = lagDemand(windows, input(10, 20), OPTS, T0 + 10_000);
    expect(d.rate).toBe(500);
    expect(d.windows.rate).toHaveLength(10);
  });

  it('does not trust one tick over the window: a batch acknowledged just before a scrape is no capacity', () => {
    let windows = EMPTY;
    for (let s = 0; s < 10; s++) windows = lagDemand(windows, input(60_000, 500), OPTS, T0 + s * 1000).windows;
    // 2,000 records acknowledged in the half second since the last scrape: 4,000/s for one tick.
    const d = lagDemand(windows, input(10_000, 4000), OPTS, T0 + 10_000);
    expect(d).toMatchObject({ rate: 500, drivenBy: 'backlog' });
  });

  it('adds the replicas a steady flow needs, from what is produced and how fast the lag grows', () => {
    // 2 replicas at 500/s each while 1,500/s arrive: the lag grows by 500/s.
    let d = lagDemand(EMPTY, input(30_000, 500, { producedPerSecond: 1000 }), { ...OPTS, readyReplicas: 2, previous: 2 }, T0);
    for (let s = 1; s <= 10; s++) d = lagDemand(d.windows, input(30_000 + 500 * s, 500, { producedPerSecond: 1000 }), { ...OPTS, readyReplicas: 2, previous: 2 }, T0 + s * 1000);
    // (1,500/s inflow + 35,000 / 60 s) / 500/s = 4.17
    expect(d.replicas).toBe(5);
    // Once drained (and the drop has left the trend window), the flow alone keeps 3 replicas rather than dropping to the minimum.
    for (let s = 11; s <= 35; s++) d = lagDemand(d.windows, input(1000, 500, { producedPerSecond: 1500 }), { ...OPTS, readyReplicas: 5, previous: 5 }, T0 + s * 1000);
    expect(d).toMatchObject({ replicas: 3, drivenBy: 'inflow' });
  });
});
