import { describe, expect, it } from 'vitest';
import type { AutoscalerState } from '../api/v1alpha1/index.js';
import { type AutoscalingSettings, type Decision, decide, initialState, parseState, Reason } from './decide.js';

const T0 = 1_700_000_000_000;
const TARGET = 10;
const DEFAULTS: AutoscalingSettings = {
  minReplicas: 1,
  maxReplicas: 100,
  target: TARGET,
  stableWindowSeconds: 60,
  panicWindowSeconds: 6,
  panicThreshold: 2,
  scaleDownDelaySeconds: 30,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  kafkaLag: { drainSeconds: 60 },
};

interface Tick extends Decision {
  second: number;
}

/**
 * Replays a load sequence, one tick per second, with replicas that become ready as soon as
 * they are asked for and load split evenly across them. `load(second)` is the total demand in
 * replicas' worth (multiples of the target).
 */
function replay(opts: {
  seconds: number;
  load: (second: number) => number;
  settings?: Partial<AutoscalingSettings>;
  start?: { replicas: number; state?: AutoscalerState };
  persist?: (state: AutoscalerState) => AutoscalerState;
}): Tick[] {
  const settings = { ...DEFAULTS, ...opts.settings };
  let replicas = opts.start?.replicas ?? 1;
  let state = opts.start?.state ?? initialState();
  const ticks: Tick[] = [];
  for (let second = 0; second < opts.seconds; second++) {
    const perPod = (opts.load(second) * TARGET) / replicas;
    const samples = new Map(Array.from({ length: replicas }, (_, i) => [`pod-${i}`, perPod] as const));
    const d = decide(state, { readyReplicas: replicas, samples, settings }, T0 + second * 1000);
    ticks.push({ ...d, second });
    state = opts.persist ? opts.persist(d.state) : d.state;
    replicas = d.desiredReplicas;
  }
  return ticks;
}

const sizes = (ticks: Tick[]) => ticks.map((t) => t.desiredReplicas);
const changes = (ticks: Tick[]) => ticks.filter((t) => t.changed).length;

/** A small seeded generator, so the noisy sequence is the same recording on every run. */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 2 ** 32;
  };
}

describe('decide', () => {
  it('steps up with the stable window when demand rises below the panic threshold', () => {
    const ticks = replay({ seconds: 180, start: { replicas: 4 }, load: (s) => (s < 60 ? 4 : 6) });
    expect(sizes(ticks.slice(0, 60)).every((n) => n === 4)).toBe(true);
    expect(ticks[60]).toMatchObject({ desiredReplicas: 5, reason: Reason.ScaleUp, panicking: false });
    expect(ticks.find((t) => t.desiredReplicas === 6)!.second).toBeGreaterThan(60 + 25);
    expect(ticks.every((t) => !t.panicking)).toBe(true);
    expect(ticks.at(-1)).toMatchObject({ desiredReplicas: 6, reason: Reason.Stable });
  });

  it('panics on a spike: scales up within the panic window and never down while panicking', () => {
    const load = (s: number) => (s < 30 ? 2 : s < 60 ? 20 : s < 63 ? 0 : 2);
    const ticks = replay({ seconds: 400, start: { replicas: 2 }, load });
    expect(ticks[30]).toMatchObject({ reason: Reason.Panic, panicking: true });
    expect(ticks[30]!.desiredReplicas).toBeGreaterThan(2);
    expect(ticks[35]!.desiredReplicas).toBe(20);
    const panicking = ticks.filter((t) => t.panicking);
    expect(panicking.every((t, i) => i === 0 || t.desiredReplicas >= panicking[i - 1]!.desiredReplicas)).toBe(true);
    // Only second 30 is over the threshold (the new replicas absorb the rest), so panic lasts one stable window from it.
    expect(panicking.map((t) => t.second)).toEqual(Array.from({ length: 60 }, (_, i) => 30 + i));
    expect(ticks.at(-1)).toMatchObject({ desiredReplicas: 2, panicking: false });
  });

  it('follows a slow decline one scale-down delay late', () => {
    // 16 replicas' worth, falling to 1 over two minutes.
    const load = (s: number) => Math.max(1, 16 - s / 8);
    const delayed = sizes(replay({ seconds: 300, start: { replicas: 16 }, load }));
    const prompt = sizes(replay({ seconds: 300, settings: { scaleDownDelaySeconds: 0 }, start: { replicas: 16 }, load }));
    expect(prompt.findIndex((n) => n < 16)).toBeLessThan(30);
    // The window is the last 30 s including this one, so with one tick a second the lag is 29 ticks.
    expect(delayed.slice(0, 29).every((n) => n === 16)).toBe(true);
    expect(delayed.slice(29)).toEqual(prompt.slice(0, -29));
    expect(delayed.at(-1)).toBe(1);
  });

  it('after a drop, holds through the scale-down delay, then steps down no faster than maxScaleDownRate', () => {
    const settings = { stableWindowSeconds: 6, panicWindowSeconds: 1, scaleDownDelaySeconds: 30, maxScaleDownRate: 2 };
    const ticks = replay({ seconds: 120, settings, start: { replicas: 64 }, load: (s) => (s < 20 ? 64 : 1) });
    const firstDown = ticks.findIndex((t) => t.reason === Reason.ScaleDown);
    expect(firstDown).toBe(19 + 30);
    expect(ticks.slice(20, firstDown).every((t) => t.desiredReplicas === 64 && t.reason === Reason.HoldScaleDownDelay)).toBe(true);
    // The recommendations of seconds 20-25 (the 6 s average falling), replayed 30 s late, then halving.
    expect(sizes(ticks.filter((t) => t.changed))).toEqual([54, 43, 33, 22, 12, 6, 3, 1]);
    expect(ticks.at(-1)!.reason).toBe(Reason.Stable);
  });

  it('settles on a noisy steady load and then makes no changes', () => {
    const random = noise(42);
    const ticks = replay({ seconds: 1500, start: { replicas: 1 }, load: () => 5.5 * (0.7 + 0.6 * random()) });
    const settled = ticks.slice(300);
    expect(changes(settled)).toBe(0);
    expect(settled[0]!.desiredReplicas).toBe(6);
  });

  it('counts a pod that did not answer as at target', () => {
    const samples = new Map([
      ['a', 2 * TARGET],
      ['b', 2 * TARGET],
      ['silent', undefined],
    ]);
    const d = decide(initialState(), { readyReplicas: 3, samples, settings: DEFAULTS }, T0);
    expect(d.observed).toEqual({ stable: 5 * TARGET, panic: 5 * TARGET });
    expect(d).toMatchObject({ desiredReplicas: 5, reason: Reason.ScaleUp, panicking: false });
  });

  it('does not scale an idle model to zero while a pod is silent', () => {
    const settings = { ...DEFAULTS, minReplicas: 0, scaleDownDelaySeconds: 0 };
    const samples = new Map([
      ['a', 0],
      ['silent', undefined],
    ]);
    const d = decide(initialState(), { readyReplicas: 2, samples, settings }, T0);
    expect(d.desiredReplicas).toBe(1);
  });

  it('holds the current size when no pod answers, and resumes from it', () => {
    const [settled] = replay({ seconds: 10, start: { replicas: 5 }, load: () => 5 }).slice(-1);
    const silent = new Map([
      ['p0', undefined],
      ['p1', undefined],
    ]);
    const held = decide(settled!.state, { readyReplicas: 3, samples: silent, settings: DEFAULTS }, T0 + 10_000);
    expect(held).toMatchObject({ desiredReplicas: 5, reason: Reason.MetricsUnavailable, changed: false });
    expect(held.observed).toBeUndefined();
    const none = decide(held.state, { readyReplicas: 0, samples: new Map(), settings: DEFAULTS }, T0 + 11_000);
    expect(none).toMatchObject({ desiredReplicas: 5, reason: Reason.MetricsUnavailable });
    const back = decide(none.state, { readyReplicas: 5, samples: new Map([['p0', 5 * TARGET]]), settings: DEFAULTS }, T0 + 12_000);
    expect(back).toMatchObject({ desiredReplicas: 5, changed: false });
  });

  it('clamps to maxReplicas and minReplicas', () => {
    const high = replay({ seconds: 20, settings: { maxReplicas: 4 }, start: { replicas: 1 }, load: () => 50 });
    expect(high.every((t) => t.desiredReplicas <= 4)).toBe(true);
    expect(high.at(-1)).toMatchObject({ desiredReplicas: 4, reason: Reason.AtMax });
    const low = replay({ seconds: 200, settings: { minReplicas: 2 }, start: { replicas: 6 }, load: () => 0 });
    expect(low.at(-1)).toMatchObject({ desiredReplicas: 2, reason: Reason.AtMin });
  });

  it('bounds scale-up to maxScaleUpRate times the ready replicas', () => {
    const ticks = replay({ seconds: 10, settings: { maxScaleUpRate: 2 }, start: { replicas: 1 }, load: () => 40 });
    expect(sizes(ticks).slice(0, 6)).toEqual([2, 4, 8, 16, 32, 40]);
  });

  it('makes the same decisions when its state goes through JSON at every tick', () => {
    const load = (s: number) => (s < 20 ? 1 : s < 50 ? 30 : s < 80 ? 3 : 0);
    const direct = replay({ seconds: 300, start: { replicas: 1 }, load });
    const persisted = replay({ seconds: 300, start: { replicas: 1 }, load, persist: (s) => parseState(JSON.parse(JSON.stringify(s))) });
    expect(persisted).toEqual(direct);
    expect(new Set(direct.map((t) => t.reason))).toEqual(new Set([Reason.Stable, Reason.Panic, Reason.HoldScaleDownDelay, Reason.ScaleDown, Reason.AtMin]));
    expect(JSON.stringify(direct[150]!.state).length).toBeLessThan(4096);
  });

  it('starts afresh from state it does not recognise', () => {
    expect(parseState(undefined)).toEqual(initialState());
    expect(parseState({ metric: 'x', recommendations: [] })).toEqual(initialState());
  });
});

const CAPACITY = 500;
const LAG: Partial<AutoscalingSettings> = { minReplicas: 0, scaleDownDelaySeconds: 30 };

/**
 * Replays a Kafka topic under metric kafkaLag, one tick per second, replicas ready as soon as they
 * are asked for: `inflow(second)` records arrive, each consuming replica (at most one per
 * partition) produces up to CAPACITY records/s, the rest stays as lag; the brokers answer the lag
 * read unless `unreachable(second)`.
 */
function replayLag(opts: {
  seconds: number;
  lag?: number;
  inflow?: (second: number) => number;
  partitions?: number;
  replicas?: number;
  unreachable?: (second: number) => boolean;
  state?: AutoscalerState;
  settings?: Partial<AutoscalingSettings>;
}): (Tick & { lag: number })[] {
  const settings = { ...DEFAULTS, ...LAG, ...opts.settings };
  const partitions = opts.partitions ?? 12;
  let lag = opts.lag ?? 0;
  let replicas = opts.replicas ?? 0;
  let state = opts.state ?? initialState();
  const ticks: (Tick & { lag: number })[] = [];
  for (let second = 0; second < opts.seconds; second++) {
    const consumers = Math.min(replicas, partitions);
    lag += opts.inflow?.(second) ?? 0;
    const produced = Math.min(lag, consumers * CAPACITY);
    lag -= produced;
    const rates = consumers > 0 ? { perReplicaRate: produced / consumers, producedPerSecond: produced } : {};
    const kafkaLag = opts.unreachable?.(second) ? {} : { input: { lag, partitions, ...rates } };
    const d = decide(state, { readyReplicas: replicas, samples: new Map(), settings, kafkaLag }, T0 + second * 1000);
    ticks.push({ ...d, second, lag });
    state = parseState(JSON.parse(JSON.stringify(d.state)));
    replicas = d.desiredReplicas;
  }
  return ticks;
}

describe('decide on metric kafkaLag', () => {
  it('zero: no lag and no flow keeps a model at zero replicas, every tick the same quiet decision', () => {
    const ticks = replayLag({ seconds: 120 });
    expect(ticks.every((t) => t.desiredReplicas === 0 && t.reason === Reason.Stable && !t.changed)).toBe(true);
    expect(ticks.at(-1)!.kafkaLag).toEqual({ lag: 0, partitions: 12, desiredReplicas: 0, drivenBy: 'idle' });
  });

  it('drain: a backlog at zero replicas wakes one, which measures the rate; the size follows within two ticks, holds until drained, then returns to zero after the delay', () => {
    const ticks = replayLag({ seconds: 200, lag: 60_000 });
    expect(ticks[0]).toMatchObject({ desiredReplicas: 1, reason: Reason.ScaleUp, kafkaLag: { lag: 60_000, desiredReplicas: 1, drivenBy: 'backlog' } });
    expect(ticks[0]!.kafkaLag?.recordsPerSecondPerReplica).toBeUndefined();
    // One replica drained 500 of them: (59,500 / 60 s) / 500/s = 1.98 -> 2.
    expect(ticks[1]).toMatchObject({ desiredReplicas: 2, kafkaLag: { recordsPerSecondPerReplica: 500, desiredReplicas: 2 } });
    const drained = ticks.findIndex((t) => t.lag === 0);
    expect(sizes(ticks.slice(1, drained)).every((n) => n === 2)).toBe(true);
    const idle = ticks.findIndex((t) => t.kafkaLag?.desiredReplicas === 0);
    expect(ticks[idle - 1]!.desiredReplicas).toBe(2);
    // The last recommendation of 2 came the tick before: the delay runs from there, then the down-rate halves per tick.
    const down = ticks.findIndex((t, i) => i > idle && t.desiredReplicas < 2);
    expect(down - (idle - 1)).toBe(30);
    expect(ticks[down]).toMatchObject({ desiredReplicas: 1, reason: Reason.ScaleDown });
    expect(ticks[down + 1]).toMatchObject({ desiredReplicas: 0, reason: Reason.ScaleDown, kafkaLag: { drivenBy: 'idle' } });
    expect(ticks.at(-1)).toMatchObject({ desiredReplicas: 0, reason: Reason.Stable, lag: 0 });
  });

  it('burst: a backlog at zero replicas is sized at once from the capacity measured in an earlier backlog, capped at the partitions', () => {
    const earlier = replayLag({ seconds: 200, lag: 60_000 });
    const state = earlier.at(-1)!.state;
    // Much later (the stable window long gone), 240,000 records land at once: 8 replicas, not 1.
    const later = replayLag({ seconds: 3, lag: 240_000, state: shift(state, 3_600_000) });
    expect(later[0]).toMatchObject({ desiredReplicas: 8, reason: Reason.ScaleUp, kafkaLag: { recordsPerSecondPerReplica: 500, desiredReplicas: 8 } });
    const capped = replayLag({ seconds: 3, lag: 6_000_000, partitions: 4, state: shift(state, 3_600_000) });
    expect(capped[0]).toMatchObject({ desiredReplicas: 4, kafkaLag: { partitions: 4, desiredReplicas: 4 } });
    const max = replayLag({ seconds: 3, lag: 6_000_000, state: shift(state, 3_600_000), settings: { maxReplicas: 5 } });
    expect(max[0]).toMatchObject({ desiredReplicas: 5, reason: Reason.AtMax });
  });

  it('ramp: an arrival rate climbing to 2,000 records/s is followed up, held while it lasts, and released once it stops', () => {
    // 0 -> 2,000 records/s over two minutes, steady for two, then nothing.
    const inflow = (s: number) => (s < 120 ? (2000 * s) / 120 : s < 240 ? 2000 : 0);
    const ticks = replayLag({ seconds: 360, inflow });
    const steady = ticks.slice(200, 240);
    // 2,000/s needs 4 replicas of 500/s; the trend keeps them without a standing backlog.
    expect(steady.every((t) => t.desiredReplicas >= 4 && t.desiredReplicas <= 6)).toBe(true);
    expect(Math.max(...steady.map((t) => t.lag))).toBeLessThan(2000 * 60);
    expect(Math.max(...sizes(ticks))).toBeLessThanOrEqual(12);
    expect(ticks.slice(0, 240).some((t) => t.kafkaLag?.drivenBy === 'inflow' || t.kafkaLag?.drivenBy === 'backlog')).toBe(true);
    expect(ticks.at(-1)).toMatchObject({ desiredReplicas: 0, lag: 0 });
    expect(changes(ticks)).toBeLessThanOrEqual(14);
  });

  it('broker unreachable: the last decision holds, with its own reason, and no scale-down delay passes for a lag nobody read', () => {
    // A recorded outage: 60,000 records, the brokers unreachable from second 20 to 90.
    const ticks = replayLag({ seconds: 200, lag: 60_000, unreachable: (s) => s >= 20 && s < 90 });
    const outage = ticks.slice(20, 90);
    expect(outage.every((t) => t.desiredReplicas === 2 && t.reason === Reason.KafkaLagUnavailable && t.kafkaLag === undefined && !t.changed)).toBe(true);
    // The backlog drained during the outage (second ~61), yet nothing came down while the lag was unknown.
    expect(ticks[89]!.lag).toBe(0);
    const back = ticks[90]!;
    expect(back).toMatchObject({ reason: Reason.HoldScaleDownDelay, kafkaLag: { lag: 0, desiredReplicas: 0 } });
    expect(ticks.at(-1)).toMatchObject({ desiredReplicas: 0 });
  });

  it('unreachable from the start holds the replicas the model has, within the bounds', () => {
    const ticks = replayLag({ seconds: 5, replicas: 3, unreachable: () => true });
    expect(ticks.every((t) => t.desiredReplicas === 3 && t.reason === Reason.KafkaLagUnavailable)).toBe(true);
  });
});

/** The same state, its times moved back by `ms`: a later backlog sees it as that old. */
function shift(state: AutoscalerState, ms: number): AutoscalerState {
  const back = <T extends { at: number }>(w: T[] | undefined) => w?.map((b) => ({ ...b, at: b.at - ms }));
  return { ...state, recommendations: back(state.recommendations)!, metric: back(state.metric)!, lagRate: back(state.lagRate), lag: back(state.lag), lagProduced: back(state.lagProduced) };
}
