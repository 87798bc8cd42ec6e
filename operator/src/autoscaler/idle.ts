import type { AutoscalerState } from '../api/v1alpha1/index.js';
import { type DecideInput, type Decision, decide, Reason } from './decide.js';

/**
 * Scale to zero, for models with autoscaling.minReplicas 0, as a pure layer over decide().
 *
 * The KPA's in-flight gauge cannot say "idle": sampled every tick, a model answering a request a
 * second in a few milliseconds reads 0 at almost every scrape. So the KPA keeps at least one
 * replica here, and zero is decided on its own evidence: no pod answered a text (the runtime's
 * predictions counter stood still) and none had a request in flight, for scaleDownDelaySeconds.
 * Anything unknown counts as activity: a pod that does not answer a scrape, a pod seen for the
 * first time (it may have served the requests a router held for it), no ready pod at all (one is
 * starting). At zero the decision stays zero: with no pod there is nothing to measure, and the
 * router's 0 -> 1 write is the only way up. That write is adopted as the current size, so the
 * autoscaler never writes the model back to zero while its first pod starts.
 */

/** What this term saw of a model's activity; kept in memory only (a new term starts active, which only delays a scale to zero). */
export interface Activity {
  lastActiveAt: number;
  /** Each pod's predictions counter at the last tick. */
  answered: Map<string, number>;
}

/** The activity seen this tick: `answered` is each ready pod's counter, undefined where its scrape failed. */
export function recordActivity(previous: Activity | undefined, samples: ReadonlyMap<string, number | undefined>, answered: ReadonlyMap<string, number | undefined>, now: number): Activity {
  const counters = new Map<string, number>();
  let active = answered.size === 0;
  for (const [pod, count] of answered) {
    if (count === undefined) {
      active = true;
      continue;
    }
    counters.set(pod, count);
    if (previous?.answered.get(pod) !== count) active = true;
  }
  for (const value of samples.values()) if (value === undefined || value > 0) active = true;
  return { lastActiveAt: active || !previous ? now : previous.lastActiveAt, answered: counters };
}

export interface ScaleToZeroInput extends DecideInput {
  /** spec.replicas as the autoscaler last knows it (its own write, or the cache's newer one). */
  current: number;
}

export function decideWithZero(state: AutoscalerState, input: ScaleToZeroInput, activity: Activity, now: number): Decision {
  const { current, settings } = input;
  if (current === 0 && input.readyReplicas === 0) {
    return { desiredReplicas: 0, reason: Reason.Idle, panicking: false, changed: state.desired !== 0, state: { ...state, desired: 0 } };
  }
  // Woken since this autoscaler decided zero (by the router, or a person): that size is the one to go on from.
  const resumed = state.desired === 0 && current > 0 ? { ...state, desired: current } : state;
  const d = decide(resumed, { ...input, settings: { ...settings, minReplicas: 1 } }, now);
  if (d.desiredReplicas > 1 || now - activity.lastActiveAt < settings.scaleDownDelaySeconds * 1000) return d;
  return { ...d, desiredReplicas: 0, reason: Reason.Idle, changed: (resumed.desired ?? input.readyReplicas) !== 0, state: { ...d.state, desired: 0 } };
}
