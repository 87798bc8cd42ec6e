/**
 * The part of a SentimentModel a canary rollout adds that the router acts on, read from the
 * object as it came from the apiserver. The object is untrusted input (anyone who may write a
 * SentimentModel, or its status, shapes it), so every field is checked here and anything
 * unexpected means "no canary": the model is then served as before, by its stable pods only.
 * Field names follow spec.rollout.canary and status.canary (see the operator's API types).
 */
import { objectField } from './fields.js';

export interface CanaryView {
  /** The candidate's revision (status.canary.revision), a label on every canary series. */
  revision: string;
  /** 0-based index of the step being analysed in spec.rollout.canary.steps. */
  step: number;
  /** This share of requests is copied to the candidate, whose answers are compared and dropped. */
  shadowPercent?: number;
  /** This share of requests is answered by the candidate, and checked against stable in the background. */
  weightPercent?: number;
  /** spec.rollout.canary.analysis.negativeLabel, lower-cased: labels are matched case-insensitively. */
  negativeLabel: string;
}

const DEFAULT_NEGATIVE_LABEL = 'negative';
/** Revisions are pod-template hashes; a longer value is not one the operator wrote. */
const MAX_REVISION_LENGTH = 253;
const MAX_STEPS = 10;

/** The canary step the router should run for `model` now, or undefined while none is being analysed. */
export function canaryView(model: unknown): CanaryView | undefined {
  const status = objectField(objectField(model, 'status'), 'canary');
  if (objectField(status, 'phase') !== 'Analyzing') return undefined;
  const revision = objectField(status, 'revision');
  const step = objectField(status, 'step');
  if (typeof revision !== 'string' || revision.length === 0 || revision.length > MAX_REVISION_LENGTH) return undefined;
  if (!Number.isInteger(step) || (step as number) < 0 || (step as number) >= MAX_STEPS) return undefined;
  const canary = objectField(objectField(objectField(model, 'spec'), 'rollout'), 'canary');
  const steps = objectField(canary, 'steps');
  if (!Array.isArray(steps)) return undefined;
  const current: unknown = steps[step as number];
  const shadow = percent(objectField(current, 'shadowPercent'));
  const weight = percent(objectField(current, 'weightPercent'));
  // Exactly one of the two (the CRD's rule); a step with neither or both is not acted on.
  if ((shadow === undefined) === (weight === undefined)) return undefined;
  const negative = objectField(objectField(canary, 'analysis'), 'negativeLabel');
  return {
    revision, step: step as number,
    ...(shadow !== undefined ? { shadowPercent: shadow } : { weightPercent: weight! }),
    negativeLabel: typeof negative === 'string' && negative.length > 0 ? negative.toLowerCase() : DEFAULT_NEGATIVE_LABEL,
  };
}

export function sameCanary(a: CanaryView | undefined, b: CanaryView | undefined): boolean {
  if (!a || !b) return a === b;
  return a.revision === b.revision && a.step === b.step && a.shadowPercent === b.shadowPercent && a.weightPercent === b.weightPercent && a.negativeLabel === b.negativeLabel;
}

function percent(value: unknown): number | undefined {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 100 ? (value as number) : undefined;
}
