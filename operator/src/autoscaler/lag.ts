import type { MetricWindow } from '../api/v1alpha1/index.js';
import { average, record } from './window.js';

/**
 * Replicas for a stream backlog, as pure functions beside decide(): KEDA's Kafka scaler divides
 * total lag by a fixed per-replica threshold; here the divisor is what a replica was measured to
 * produce, so the backlog drains within autoscaling.stream.drainSeconds whatever the model's speed.
 */

/**
 * Lag a replica set drains within this many seconds counts as none. The runtime refreshes its lag
 * gauge every 5 s and records in flight are uncommitted, so a keeping-up consumer shows up to
 * this much lag.
 */
const NEAR_ZERO_SECONDS = 5;
/** The lag's trend is read over this long: a few of the runtime's 5 s lag refreshes. */
const TREND_SECONDS = 20;
const TREND_MIN_SECONDS = 10;

/** One pod's stream series (runtime/src/metrics.ts), as scraped. */
export interface StreamSample {
  /** Uncommitted records summed over the partitions this pod holds; 0 when it holds none. */
  lag: number;
  /** Partitions of the input topic this pod holds. */
  assigned: number;
  /** Partitions of the input topic, as this pod last read them from the brokers; undefined until it has. */
  partitions?: number;
  /** Results the output topic acknowledged since the process started (a counter). */
  produced: number;
}

export interface ProducedCount {
  at: number;
  total: number;
}

export interface StreamInput {
  /** Uncommitted records summed over the pods that answered. */
  lag: number;
  /** Every ready pod answered: lag is the whole lag, not a lower bound. */
  complete: boolean;
  /** Mean records/s over the last tick of the pods holding partitions; undefined before a pod has two samples. */
  perReplicaRate?: number;
  /** Records/s those pods produced together over the last tick. */
  producedPerSecond?: number;
  /** Partitions of the input topic; undefined until a pod has read them. */
  partitions?: number;
}

/**
 * This tick's stream input from the pods' samples and the counters seen last tick (which the
 * caller keeps and passes back). A counter that went down is a restarted process: it yields no
 * rate this tick rather than a negative one.
 */
export function streamInput(
  samples: ReadonlyMap<string, StreamSample | undefined>,
  last: ReadonlyMap<string, ProducedCount>,
  now: number,
): { input: StreamInput; counts: Map<string, ProducedCount> } {
  let lag = 0;
  let complete = true;
  let partitions: number | undefined;
  const rates: number[] = [];
  const counts = new Map<string, ProducedCount>();
  for (const [pod, sample] of samples) {
    if (!sample) {
      complete = false;
      continue;
    }
    lag += sample.lag;
    if (sample.partitions !== undefined) partitions = Math.max(partitions ?? 0, sample.partitions);
    counts.set(pod, { at: now, total: sample.produced });
    const before = last.get(pod);
    // A pod holding no partition produces nothing and says nothing about what a consumer manages.
    if (sample.assigned > 0 && before && now > before.at && sample.produced >= before.total) {
      rates.push(((sample.produced - before.total) * 1000) / (now - before.at));
    }
  }
  const produced = rates.reduce((a, b) => a + b, 0);
  return {
    input: {
      lag,
      complete,
      ...(rates.length > 0 ? { perReplicaRate: produced / rates.length, producedPerSecond: produced } : {}),
      ...(partitions !== undefined ? { partitions } : {}),
    },
    counts,
  };
}

export interface LagWindows {
  /** Per-replica rates recorded while a backlog kept the replicas busy. */
  rate: MetricWindow;
  /** The lag over the last TREND_SECONDS. */
  lag: MetricWindow;
  /** Records/s produced over the same seconds, so the inflow pairs a growth and an output of one period. */
  produced: MetricWindow;
}

export interface LagDemand {
  /** Replicas the stream alone asks for; 0 when there is neither lag nor flow. */
  replicas: number;
  /** Records/s one busy replica produces, averaged over the stable window; undefined until measured. */
  rate?: number;
  windows: LagWindows;
}

/**
 * replicas = ceil((inflow + lag / drainSeconds) / records/s per replica), at most one per partition.
 *
 * The divisor is a replica's capacity: a rate measured while the replicas had a backlog, as a
 * replica that keeps up produces what arrives, which says nothing of what it could. The inflow is
 * what the replicas produced plus how fast the lag grew (negative while it drains), both over the
 * last TREND_SECONDS, so a steady flow keeps the replicas it needs once the backlog is gone instead
 * of dropping to the minimum and building the backlog up again. Until the trend is known (a fresh
 * start) the inflow counts as zero, a backlog alone: 60,000 records at 500/s per replica with a
 * 60 s target is 2 replicas, and the trend adds what a flow needs a few seconds later.
 *
 * While the lag is not near zero (or not known whole) the replicas already running are kept:
 * scale-down waits for the backlog to be gone, and then for the scale-down delay like any other
 * recommendation.
 */
export function lagDemand(
  windows: LagWindows,
  input: StreamInput,
  opts: { drainSeconds: number; stableWindowSeconds: number; readyReplicas: number; previous: number },
  now: number,
): LagDemand {
  const { lag } = input;
  const replicas = Math.max(1, opts.readyReplicas);
  const measured = input.perReplicaRate !== undefined && input.perReplicaRate > 0 ? input.perReplicaRate : undefined;
  const busy = measured !== undefined && lag > measured * replicas * NEAR_ZERO_SECONDS;
  const next: LagWindows = {
    rate: busy ? record(windows.rate, now, measured, opts.stableWindowSeconds) : windows.rate,
    lag: input.complete ? record(windows.lag, now, lag, TREND_SECONDS) : windows.lag,
    produced: input.complete && input.producedPerSecond !== undefined ? record(windows.produced, now, input.producedPerSecond, TREND_SECONDS) : windows.produced,
  };
  const rate = capacity(next.rate, now, opts.stableWindowSeconds, measured);
  const known = rate !== undefined ? { rate } : {};
  const nearZero = lag <= (rate ?? 0) * replicas * NEAR_ZERO_SECONDS;
  if (rate === undefined) return { replicas: nearZero && input.complete ? 0 : opts.previous, windows: next };

  const growth = trend(next.lag);
  const output = average(next.produced, now, TREND_SECONDS);
  const inflow = growth === undefined || output === undefined ? 0 : Math.max(0, output + growth);
  const cap = (n: number) => Math.min(n, input.partitions ?? Infinity);
  const forFlow = (records: number) => Math.max(0, Math.ceil(records / rate - 1e-9));
  if (nearZero && input.complete) return { replicas: cap(forFlow(inflow)), ...known, windows: next };
  return { replicas: Math.max(cap(forFlow(inflow + lag / opts.drainSeconds)), opts.previous), ...known, windows: next };
}

/**
 * Records/s a replica manages: the busy seconds of the stable window, else the last busy second
 * however old (a replica that keeps up never shows its capacity again until the next backlog), and
 * never less than a replica produces now.
 */
function capacity(window: MetricWindow, now: number, seconds: number, measured: number | undefined): number | undefined {
  const last = window.at(-1);
  const busy = average(window, now, seconds) ?? (last ? last.sum / last.n : undefined);
  return busy === undefined ? measured : Math.max(busy, measured ?? 0);
}

/**
 * Records/s the lag changed by, from the oldest to the newest second of the window; undefined
 * until they are TREND_MIN_SECONDS apart, since each process refreshes its lag only every 5 s.
 */
function trend(window: MetricWindow): number | undefined {
  const first = window[0];
  const last = window.at(-1);
  if (!first || !last || last.at - first.at < TREND_MIN_SECONDS * 1000) return undefined;
  return (last.sum / last.n - first.sum / first.n) / ((last.at - first.at) / 1000);
}
