/**
 * What the router and the operator agree on for a canary rollout: the router measures the
 * candidate against the stable model on live traffic and exports the counts below; the operator
 * scrapes every router pod, sums them per step and judges the step against spec.rollout.canary.
 * Counting per step (a label) rather than per rollout lets the operator read a step's figures
 * directly, without remembering where the counters stood when the step began.
 */

/** The candidate revision's Deployment and Service: `<model>-canary`, beside the model's own. */
export const canaryName = (model: string): string => `${model}-canary`;

/** On the candidate's pods (and its Deployment and Service), so nothing mistakes them for the stable revision's. */
export const CANARY_LABEL = 'serving.sentiment.dev/canary';

/** Labels on every canary series: the model, the candidate's revision and the step's index in spec.rollout.canary.steps. */
export const CANARY_SERIES_LABELS = ['namespace', 'model', 'revision', 'step'] as const;

export const CANARY_SERIES = {
  /** Texts answered by both revisions (a shadow copy, or a weighted request checked against stable). */
  compared: 'sentiment_router_canary_compared_texts_total',
  /** Of those, texts given the same label by both. */
  agreeing: 'sentiment_router_canary_agreeing_texts_total',
  /** Compared texts labelled with the negative label, by side (`stable` or `candidate`). */
  negative: 'sentiment_router_canary_negative_texts_total',
  /** Sum of each class's score over compared texts, by side and label: per-class mean scores follow. */
  scoreSum: 'sentiment_router_canary_score_sum',
  /** Requests the candidate was sent, by outcome: `ok`, `error` (5xx or no answer) or `overloaded` (429, not held against it). */
  candidateRequests: 'sentiment_router_canary_candidate_requests_total',
  /** The candidate's answer time per request (a histogram: its p99 is judged). */
  candidateDuration: 'sentiment_router_canary_candidate_duration_seconds',
} as const;

export type CanarySide = 'stable' | 'candidate';
export type CandidateOutcome = 'ok' | 'error' | 'overloaded';

export const CANDIDATE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
