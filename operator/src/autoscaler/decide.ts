import { Value } from 'typebox/value';
import { AutoscalerState, type SentimentModelSpec } from '../api/v1alpha1/index.js';
import { type DrivenBy, type LagInput, lagDemand } from './lag.js';
import { average, record, recordMax } from './window.js';

/**
 * The scaling decision of Knative's KPA as a pure function: the caller scrapes, passes the
 * samples and the time, persists the returned state and writes the replicas. Nothing here
 * reads a clock or the API, so recorded sequences replay exactly in tests and the benchmark.
 */

/** spec.autoscaling, less the fields that only tell the caller whether and what to scrape. */
export type AutoscalingSettings = Omit<SentimentModelSpec['autoscaling'], 'enabled' | 'engine' | 'metric'>;

export const initialState = (): AutoscalerState => ({ metric: [], recommendations: [] });

/** State read back from status; anything unrecognised (older format, hand edit) starts afresh. */
export function parseState(value: unknown): AutoscalerState {
  return Value.Check(AutoscalerState, value) ? value : initialState();
}

export const Reason = {
  ScaleUp: 'ScaleUp',
  ScaleDown: 'ScaleDown',
  Stable: 'Stable',
  Panic: 'Panic',
  HoldScaleDownDelay: 'HoldScaleDownDelay',
  AtMin: 'AtMin',
  AtMax: 'AtMax',
  MetricsUnavailable: 'MetricsUnavailable',
  KafkaLagUnavailable: 'KafkaLagUnavailable',
  /** minReplicas 0: no request for scaleDownDelaySeconds (idle.ts). */
  Idle: 'Idle',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface DecideInput {
  /** Pods that are Ready now; the rate limits and the panic threshold are relative to these. */
  readyReplicas: number;
  /** One entry per ready pod: its metric value this tick, or undefined when it did not answer (not used by metric kafkaLag). */
  samples: ReadonlyMap<string, number | undefined>;
  settings: AutoscalingSettings;
  /** Metric kafkaLag: the consumer group's lag this tick, `input` absent when it could not be read. */
  kafkaLag?: { input?: LagInput };
}

export interface Decision {
  desiredReplicas: number;
  reason: Reason;
  panicking: boolean;
  /** desiredReplicas differs from the previous decision (or from readyReplicas on the first). */
  changed: boolean;
  /** Total metric across pods averaged over each window; absent when no pod answered. */
  observed?: { stable: number; panic: number };
  /** Metric kafkaLag: the lag read and what it alone asks for; absent when it could not be read. */
  kafkaLag?: { lag: number; partitions: number; recordsPerSecondPerReplica?: number; desiredReplicas: number; drivenBy: DrivenBy };
  state: AutoscalerState;
}

export function decide(state: AutoscalerState, input: DecideInput, now: number): Decision {
  if (input.kafkaLag) return decideOnLag(state, input, input.kafkaLag.input, now);
  const { settings: s, readyReplicas } = input;
  const previous = state.desired ?? readyReplicas;
  const values = [...input.samples.values()];
  const answered = values.filter((v): v is number => v !== undefined);

  if (answered.length === 0) return hold(state, previous, s, Reason.MetricsUnavailable);

  // A pod that did not answer counts as exactly at target: neither a reason to add pods nor
  // to remove it, so one slow scrape cannot flap the size or drain a model to zero.
  const total = answered.reduce((a, b) => a + b, 0) + (values.length - answered.length) * s.target;
  const metric = record(state.metric, now, total, s.stableWindowSeconds);
  // Never undefined: the window now holds this tick.
  const stable = average(metric, now, s.stableWindowSeconds)!;
  const panic = average(metric, now, s.panicWindowSeconds)!;

  // With no ready pod the demand is still measured against one, as Knative does, so a ratio exists.
  const capacity = Math.max(1, readyReplicas);
  // The unrounded demand: ceil() would make 1.01 pods' worth of load on one pod a panic.
  const overThreshold = panic / s.target / capacity >= s.panicThreshold;
  let overThresholdAt = state.overThresholdAt;
  if (overThreshold) overThresholdAt = now;
  else if (overThresholdAt !== undefined && now - overThresholdAt >= s.stableWindowSeconds * 1000) overThresholdAt = undefined;
  const panicking = overThresholdAt !== undefined;

  const want = panicking ? Math.max(replicasFor(panic, s), previous) : replicasFor(stable, s);
  const sized = bound(state, { want, previous, readyReplicas, panicking }, s, now);
  return {
    desiredReplicas: sized.desired,
    reason: sized.reason,
    panicking,
    changed: sized.desired !== previous,
    observed: { stable, panic },
    state: {
      metric,
      recommendations: sized.recommendations,
      ...(overThresholdAt !== undefined ? { overThresholdAt } : {}),
      desired: sized.desired,
    },
  };
}

/**
 * Metric kafkaLag: the lag's replicas (lag.ts) through the same scale-down delay, rate limits and
 * bounds as a pod metric. No panic mode: the lag is read whole from the brokers, not averaged
 * over pods that might be missing, and a burst is already sized by the drain time.
 */
function decideOnLag(state: AutoscalerState, input: DecideInput, lag: LagInput | undefined, now: number): Decision {
  const { settings: s, readyReplicas } = input;
  const previous = state.desired ?? readyReplicas;
  if (!lag) {
    // Holding is a decision too: recorded as a recommendation, it keeps the scale-down delay from
    // passing while nobody knows the lag, so the delay counts from when it is read again.
    const held = hold(state, previous, s, Reason.KafkaLagUnavailable);
    return { ...held, state: { ...held.state, recommendations: recordMax(state.recommendations, now, held.desiredReplicas, s.scaleDownDelaySeconds).window } };
  }
  const demand = lagDemand(
    { rate: state.lagRate ?? [], lag: state.lag ?? [], produced: state.lagProduced ?? [] },
    lag,
    { drainSeconds: s.kafkaLag.drainSeconds, stableWindowSeconds: s.stableWindowSeconds, readyReplicas, previous },
    now,
  );
  const sized = bound(state, { want: demand.replicas, previous, readyReplicas, panicking: false }, s, now);
  return {
    desiredReplicas: sized.desired,
    reason: sized.reason,
    panicking: false,
    changed: sized.desired !== previous,
    kafkaLag: {
      lag: lag.lag,
      partitions: lag.partitions,
      ...(demand.rate !== undefined ? { recordsPerSecondPerReplica: demand.rate } : {}),
      desiredReplicas: demand.replicas,
      drivenBy: demand.drivenBy,
    },
    state: {
      metric: [],
      recommendations: sized.recommendations,
      desired: sized.desired,
      lagRate: demand.windows.rate,
      lag: demand.windows.lag,
      lagProduced: demand.windows.produced,
    },
  };
}

/** Without an input this tick the last decision holds (within the bounds, which may have changed). */
function hold(state: AutoscalerState, previous: number, s: AutoscalingSettings, reason: Reason): Decision {
  const desired = clamp(previous, s);
  return { desiredReplicas: desired, reason, panicking: state.overThresholdAt !== undefined, changed: desired !== previous, state: { ...state, desired } };
}

/** The recommendation through the scale-down delay, the rate limits and the bounds, and why the result is what it is. */
function bound(
  state: AutoscalerState,
  { want, previous, readyReplicas, panicking }: { want: number; previous: number; readyReplicas: number; panicking: boolean },
  s: AutoscalingSettings,
  now: number,
): { desired: number; reason: Reason; recommendations: AutoscalerState['recommendations'] } {
  const capacity = Math.max(1, readyReplicas);
  // The delay applies to the recommendation before rate limiting, so once it has passed the
  // size steps down at the bounded rate every tick instead of waiting a delay per step.
  const delayed = recordMax(state.recommendations, now, want, s.scaleDownDelaySeconds);
  const rateLimit = (n: number) => Math.min(Math.max(n, Math.floor(capacity / s.maxScaleDownRate)), Math.ceil(capacity * s.maxScaleUpRate));
  // A pod failing mid-panic shrinks capacity; the up-rate bound must not give back what was asked for.
  const bounded = (n: number) => (panicking ? Math.max(rateLimit(n), previous) : rateLimit(n));
  const unclamped = bounded(delayed.max);
  const desired = clamp(unclamped, s);
  return { desired, reason: reasonFor(), recommendations: delayed.window };

  function reasonFor(): Reason {
    if (unclamped > s.maxReplicas) return Reason.AtMax;
    if (unclamped < s.minReplicas) return Reason.AtMin;
    if (panicking) return Reason.Panic;
    if (desired > previous) return Reason.ScaleUp;
    if (desired < previous) return Reason.ScaleDown;
    return desired === clamp(bounded(want), s) ? Reason.Stable : Reason.HoldScaleDownDelay;
  }
}

// Averaging leaves float error (three pods at 10/3 sum to 10.000000000000002); unforgiven, an
// exact multiple of the target would ask for a whole extra replica.
function replicasFor(demand: number, s: AutoscalingSettings): number {
  return Math.ceil(demand / s.target - 1e-9);
}

function clamp(n: number, s: AutoscalingSettings): number {
  return Math.min(Math.max(n, s.minReplicas), s.maxReplicas);
}
