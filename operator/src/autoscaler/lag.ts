import type { MetricWindow } from '../api/v1alpha1/index.js';
import { average, record } from './window.js';

/**
 * Replicas for a consumer group's backlog (metric kafkaLag), as pure functions beside decide():
 * KEDA's Kafka scaler divides total lag by a fixed per-replica threshold; here the divisor is what
 * a replica was measured to produce, so the backlog drains within autoscaling.kafkaLag.drainSeconds
 * whatever the model's speed.
 */

/**
 * Lag the running replicas drain within this many seconds (or within drainSeconds, if shorter)
 * counts as none: a keeping-up consumer shows the records it holds in flight (committed only once
 * their results are acknowledged) and whatever arrived since its last commit.
 */
const NEAR_ZERO_SECONDS = 5;
/** The lag's trend is read over this long. */
const TREND_SECONDS = 20;
const TREND_MIN_SECONDS = 10;

/** One pod's stream series (runtime/src/metrics.ts), as scraped. */
export interface StreamSample {
  /** Partitions of the input topic this pod holds (its per-partition lag series). */
  assigned: number;
  /** Results the output topic acknowledged since the process started (a counter). */
  produced: number;
}

export interface ProducedCount {
  at: number;
  total: number;
}

/** The consumer group's lag, read from the brokers, and what the pods produce. */
export interface LagInput {
  /** Records of the input topic the group has not committed, summed over every partition. */
  lag: number;
  /** Partitions of the input topic. */
  partitions: number;
  /** Mean records/s over the last tick of the pods holding partitions; undefined before a pod has two samples. */
  perReplicaRate?: number;
  /** Records/s those pods produced together over the last tick. */
  producedPerSecond?: number;
}

/**
 * What the pods produced this tick, from their samples and the counters seen last tick (which the
 * caller keeps and passes back). A counter that went down is a restarted process: it yields no
 * rate this tick rather than a negative one.
 */
export function producedRates(
  samples: ReadonlyMap<string, StreamSample | undefined>,
  last: ReadonlyMap<string, ProducedCount>,
  now: number,
): { rates: Pick<LagInput, 'perReplicaRate' | 'producedPerSecond'>; counts: Map<string, ProducedCount> } {
  const rates: number[] = [];
  const counts = new Map<string, ProducedCount>();
  for (const [pod, sample] of samples) {
    if (!sample) continue;
    counts.set(pod, { at: now, total: sample.produced });
    const before = last.get(pod);
    // A pod holding no partition produces nothing and says nothing about what a consumer manages.
    if (sample.assigned > 0 && before && now > before.at && sample.produced >= before.total) {
      rates.push(((sample.produced - before.total) * 1000) / (now - before.at));
    }
  }
  const produced = rates.reduce((a, b) => a + b, 0);
  return { rates: rates.length > 0 ? { perReplicaRate: produced / rates.length, producedPerSecond: produced } : {}, counts };
}

export interface LagWindows {
  /** Per-replica rates recorded while a backlog kept the replicas busy. */
  rate: MetricWindow;
  /** The lag over the last TREND_SECONDS. */
  lag: MetricWindow;
  /** Records/s produced over the same seconds, so the inflow pairs a growth and an output of one period. */
  produced: MetricWindow;
}

/** What set the lag's replica count: the backlog to drain, the steady flow without one, or nothing at all. */
export type DrivenBy = 'backlog' | 'inflow' | 'idle';

export interface LagDemand {
  /** Replicas the lag alone asks for; 0 when there is neither lag nor flow. */
  replicas: number;
  drivenBy: DrivenBy;
  /** Records/s one busy replica produces, averaged over the stable window; undefined until measured. */
  rate?: number;
  windows: LagWindows;
}

/**
 * replicas = ceil((inflow + lag / drainSeconds) / records/s per replica), at most one per partition.
 *
 * The divisor is a replica's capacity: a rate measured while the replicas had a backlog, as a
 * replica that keeps up produces what arrives, which says nothing of what it could. It is kept
 * (in the persisted windows) after the backlog and the pods are gone, so a backlog appearing at
 * zero replicas is sized at once from the last one. The inflow is what the replicas produced plus
 * how fast the lag grew (negative while it drains), both over the last TREND_SECONDS, so a steady
 * flow keeps the replicas it needs once the backlog is gone instead of dropping to the minimum and
 * building the backlog up again. Until the trend is known the inflow counts as zero.
 *
 * Before any rate was ever measured, any lag asks for one replica (or keeps those running): the
 * records a model manages per second vary a hundredfold between a CPU and a GPU, so no guess
 * here would be better than measuring one replica, which takes two scrapes once it consumes.
 *
 * While the lag is not near zero the replicas already running are kept: scale-down waits for the
 * backlog to be gone, and then for the scale-down delay like any other recommendation. At zero
 * replicas nothing drains, so any lag counts.
 */
export function lagDemand(
  windows: LagWindows,
  input: LagInput,
  opts: { drainSeconds: number; stableWindowSeconds: number; readyReplicas: number; previous: number },
  now: number,
): LagDemand {
  const { lag } = input;
  const replicas = Math.max(1, opts.readyReplicas);
  // Past the drain target a lag is a backlog however small: one that 5 s would clear is no noise to
  // a model asked to drain within 3 s, and reading it as none would never measure a fast replica.
  const nearZeroSeconds = Math.min(NEAR_ZERO_SECONDS, opts.drainSeconds);
  const measured = input.perReplicaRate !== undefined && input.perReplicaRate > 0 ? input.perReplicaRate : undefined;
  const busy = measured !== undefined && lag > measured * replicas * nearZeroSeconds;
  const next: LagWindows = {
    rate: busy ? record(windows.rate, now, measured, opts.stableWindowSeconds) : windows.rate,
    lag: record(windows.lag, now, lag, TREND_SECONDS),
    produced: input.producedPerSecond !== undefined ? record(windows.produced, now, input.producedPerSecond, TREND_SECONDS) : windows.produced,
  };
  const rate = capacity(next.rate, now, opts.stableWindowSeconds, measured);
  const consuming = opts.readyReplicas > 0 || opts.previous > 0;
  const nearZero = lag <= 0 || (consuming && lag <= (rate ?? 0) * replicas * nearZeroSeconds);
  if (rate === undefined) {
    return nearZero ? { replicas: 0, drivenBy: 'idle', windows: next } : { replicas: Math.max(1, opts.previous), drivenBy: 'backlog', windows: next };
  }

  const inflow = inflowOf(next.lag, next.produced) ?? 0;
  const cap = (n: number) => Math.min(n, input.partitions);
  const forFlow = (records: number) => Math.max(0, Math.ceil(records / rate - 1e-9));
  if (nearZero) {
    const flow = cap(forFlow(inflow));
    return { replicas: flow, drivenBy: flow > 0 ? 'inflow' : 'idle', rate, windows: next };
  }
  // A backlog never asks for zero: something has to consume it.
  return { replicas: Math.max(cap(forFlow(inflow + lag / opts.drainSeconds)), opts.previous, 1), drivenBy: 'backlog', rate, windows: next };
}

/**
 * Records/s a replica manages: the busy seconds of the stable window, else the last busy second
 * however old (a replica that keeps up never shows its capacity again until the next backlog),
 * else what it produced this tick. One tick alone is not trusted over the window: a consumer
 * produces in batches, and a batch acknowledged just before a scrape half a second after the last
 * reads as several times its real rate, enough to take a backlog for none.
 */
function capacity(window: MetricWindow, now: number, seconds: number, measured: number | undefined): number | undefined {
  const last = window.at(-1);
  return average(window, now, seconds) ?? (last ? last.sum / last.n : measured);
}

/**
 * Records/s that arrived over the lag window: what was produced after its first second plus how
 * much the lag grew (negative while it drains) from the first to the last second, undefined until
 * those are TREND_MIN_SECONDS apart. The first second's output is left out, as the first lag
 * reading already has it taken off; counted, a drained backlog would read as a flow.
 */
function inflowOf(lag: MetricWindow, produced: MetricWindow): number | undefined {
  const first = lag[0];
  const last = lag.at(-1);
  if (!first || !last || last.at - first.at < TREND_MIN_SECONDS * 1000) return undefined;
  const after = produced.filter((b) => b.at > first.at && b.at <= last.at);
  if (after.length === 0) return undefined;
  const output = after.reduce((sum, b) => sum + b.sum / b.n, 0) / after.length;
  const growth = (last.sum / last.n - first.sum / first.n) / ((last.at - first.at) / 1000);
  return Math.max(0, output + growth);
}
