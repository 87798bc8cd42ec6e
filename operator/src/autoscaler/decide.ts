import { Value } from 'typebox/value';
import { AutoscalerState, type SentimentModelSpec } from '../api/v1alpha1/index.js';
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
  /** minReplicas 0: no request for scaleDownDelaySeconds (idle.ts). */
  Idle: 'Idle',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface DecideInput {
  /** Pods that are Ready now; the rate limits and the panic threshold are relative to these. */
  readyReplicas: number;
  /** One entry per ready pod: its metric value this tick, or undefined when it did not answer. */
  samples: ReadonlyMap<string, number | undefined>;
  settings: AutoscalingSettings;
}

export interface Decision {
  desiredReplicas: number;
  reason: Reason;
  panicking: boolean;
  /** desiredReplicas differs from the previous decision (or from readyReplicas on the first). */
  changed: boolean;
  /** Total metric across pods averaged over each window; absent when no pod answered. */
  observed?: { stable: number; panic: number };
  state: AutoscalerState;
}

export function decide(state: AutoscalerState, input: DecideInput, now: number): Decision {
  const { settings: s, readyReplicas } = input;
  const previous = state.desired ?? readyReplicas;
  const values = [...input.samples.values()];
  const answered = values.filter((v): v is number => v !== undefined);

  if (answered.length === 0) {
    const desired = clamp(previous, s);
    return {
      desiredReplicas: desired,
      reason: Reason.MetricsUnavailable,
      panicking: state.overThresholdAt !== undefined,
      changed: desired !== previous,
      state: { ...state, desired },
    };
  }

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
  // The delay applies to the recommendation before rate limiting, so once it has passed the
  // size steps down at the bounded rate every tick instead of waiting a delay per step.
  const delayed = recordMax(state.recommendations, now, want, s.scaleDownDelaySeconds);
  const rateLimit = (n: number) => Math.min(Math.max(n, Math.floor(capacity / s.maxScaleDownRate)), Math.ceil(capacity * s.maxScaleUpRate));
  // A pod failing mid-panic shrinks capacity; the up-rate bound must not give back what was asked for.
  const bounded = (n: number) => (panicking ? Math.max(rateLimit(n), previous) : rateLimit(n));
  const unclamped = bounded(delayed.max);
  const desired = clamp(unclamped, s);

  return {
    desiredReplicas: desired,
    reason: reasonFor(),
    panicking,
    changed: desired !== previous,
    observed: { stable, panic },
    state: {
      metric,
      recommendations: delayed.window,
      ...(overThresholdAt !== undefined ? { overThresholdAt } : {}),
      desired,
    },
  };

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
