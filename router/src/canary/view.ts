/**
 * The part of a SentimentModel a canary rollout adds that the router acts on, read from the
 * object as it came from the apiserver. The object is untrusted input (anyone who may write a
 * SentimentModel, or its status, shapes it), so every field is checked here and anything
 * unexpected means "no canary": the model is then served as before, by its stable pods only.
 * Field names follow spec.rollout.canary and status.canary (see the operator's API types).
 */
import Type from 'typebox';
import Value from 'typebox/value';

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

const Percent = Type.Integer({ minimum: 1, maximum: 100 });
/** The fields read here, as the CRD allows them; other fields may be anything. */
const AnalysedModel = Type.Object({
  spec: Type.Object({
    rollout: Type.Object({
      canary: Type.Object({
        steps: Type.Array(Type.Object({ shadowPercent: Type.Optional(Percent), weightPercent: Type.Optional(Percent) }), { maxItems: MAX_STEPS }),
        analysis: Type.Optional(Type.Object({ negativeLabel: Type.Optional(Type.String({ minLength: 1 })) })),
      }),
    }),
  }),
  status: Type.Object({
    canary: Type.Object({
      phase: Type.Literal('Analyzing'),
      revision: Type.String({ minLength: 1, maxLength: MAX_REVISION_LENGTH }),
      step: Type.Integer({ minimum: 0, maximum: MAX_STEPS - 1 }),
    }),
  }),
});

/** The canary step the router should run for `model` now, or undefined while none is being analysed. */
export function canaryView(model: unknown): CanaryView | undefined {
  if (!Value.Check(AnalysedModel, model)) return undefined;
  const { spec, status } = model;
  const { revision, step } = status.canary;
  const current = spec.rollout.canary.steps[step];
  // Exactly one of the two (the CRD's rule); a step with neither or both is not acted on.
  if (!current || (current.shadowPercent === undefined) === (current.weightPercent === undefined)) return undefined;
  const negative = spec.rollout.canary.analysis?.negativeLabel;
  return {
    revision, step,
    ...(current.shadowPercent !== undefined ? { shadowPercent: current.shadowPercent } : { weightPercent: current.weightPercent! }),
    negativeLabel: negative ? negative.toLowerCase() : DEFAULT_NEGATIVE_LABEL,
  };
}

export function sameCanary(a: CanaryView | undefined, b: CanaryView | undefined): boolean {
  if (!a || !b) return a === b;
  return a.revision === b.revision && a.step === b.step && a.shadowPercent === b.shadowPercent && a.weightPercent === b.weightPercent && a.negativeLabel === b.negativeLabel;
}
