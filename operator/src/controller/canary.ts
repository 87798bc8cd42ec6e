import type { Canary, CanaryAnalysis, CanaryStatus, CanaryStep, Revision } from '../api/v1alpha1/index.js';

/** While a step is analyzed, the figures are read again this often. */
export const CANARY_RECHECK_MS = 2_000;
/** Candidate requests needed before its error rate may end a step early: fewer say little. */
export const EARLY_ERROR_REQUESTS = 20;

/** One step's counts, summed over the router pods (scrape.ts). */
export interface StepFigures {
  compared: number;
  agreeing: number;
  negative: { stable: number; candidate: number };
  /** Per side, the sum of each class's score over the compared texts. */
  scoreSum: { stable: Record<string, number>; candidate: Record<string, number> };
  requests: { ok: number; error: number; overloaded: number };
  /** The answer-time histogram: cumulative counts by upper bound, +Inf included. */
  duration: { le: number; count: number }[];
}

export type Analysis = NonNullable<CanaryStatus['analysis']>;

export interface Verdict {
  result: 'wait' | 'pass' | 'fail';
  /** The failed check, for the rollback metric's label. */
  check?: string;
  reason: string;
  message: string;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** The upper bound of the bucket holding the q quantile; undefined without observations. */
export function quantile(buckets: StepFigures['duration'], q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  return sorted.find((b) => b.count >= q * total)?.le;
}

export function analyze(f: StepFigures): Analysis {
  const n = f.compared;
  const labels = new Set([...Object.keys(f.scoreSum.stable), ...Object.keys(f.scoreSum.candidate)]);
  // The router adds scores only for texts answered with a score per class; dividing both sides' difference by all compared texts under-states drift alike on both, never inflates it.
  const drift = Math.max(0, ...[...labels].map((l) => Math.abs((f.scoreSum.candidate[l] ?? 0) - (f.scoreSum.stable[l] ?? 0)) / n));
  const judged = f.requests.ok + f.requests.error;
  const p99 = quantile(f.duration, 0.99);
  return {
    comparedTexts: n,
    ...(n > 0 ? {
      labelAgreement: round(f.agreeing / n),
      negativeShareChange: round((f.negative.candidate - f.negative.stable) / n),
      scoreDrift: round(drift),
    } : {}),
    ...(judged > 0 ? { errorRate: round(f.requests.error / judged) } : {}),
    ...(p99 !== undefined && Number.isFinite(p99) ? { p99LatencySeconds: p99 } : {}),
  };
}

/**
 * A step's verdict: the error rate may fail it as soon as enough requests say so; the other
 * checks wait until the step's texts were compared. The message names the check, the measured
 * value and the threshold, for status, the event and whoever reads them.
 */
export function judge(f: StepFigures, step: CanaryStep, t: CanaryAnalysis): Verdict {
  const a = analyze(f);
  const judgedRequests = f.requests.ok + f.requests.error;
  const over = `over ${a.comparedTexts} texts`;
  const errorFail: Verdict | undefined = a.errorRate !== undefined && a.errorRate > t.maxErrorRate
    ? { result: 'fail', check: 'errorRate', reason: 'ErrorRateTooHigh', message: `candidate error rate ${a.errorRate} > ${t.maxErrorRate} over ${judgedRequests} requests` }
    : undefined;
  if (errorFail && judgedRequests >= EARLY_ERROR_REQUESTS) return errorFail;
  if (a.comparedTexts < step.texts) {
    return { result: 'wait', reason: 'Analyzing', message: `compared ${a.comparedTexts} of ${step.texts} texts` };
  }
  if ((a.labelAgreement ?? 0) < t.minLabelAgreement) {
    return { result: 'fail', check: 'labelAgreement', reason: 'LabelAgreementTooLow', message: `label agreement ${a.labelAgreement} < ${t.minLabelAgreement} ${over}` };
  }
  if (Math.abs(a.negativeShareChange ?? 0) > t.maxNegativeShareChange) {
    return { result: 'fail', check: 'negativeShareChange', reason: 'NegativeShareChanged', message: `negative share change ${a.negativeShareChange} beyond ±${t.maxNegativeShareChange} ${over}` };
  }
  if ((a.scoreDrift ?? 0) > t.maxScoreDrift) {
    return { result: 'fail', check: 'scoreDrift', reason: 'ScoreDriftTooHigh', message: `score drift ${a.scoreDrift} > ${t.maxScoreDrift} ${over}` };
  }
  if (errorFail) return errorFail;
  if (a.p99LatencySeconds !== undefined && a.p99LatencySeconds > t.maxP99LatencySeconds) {
    return { result: 'fail', check: 'p99Latency', reason: 'LatencyTooHigh', message: `candidate p99 latency ${a.p99LatencySeconds}s > ${t.maxP99LatencySeconds}s` };
  }
  return { result: 'pass', reason: 'StepPassed', message: `step passed: agreement ${a.labelAgreement} ${over}` };
}

export interface CanaryInputs {
  canary: Canary | undefined;
  previous: CanaryStatus | undefined;
  /** The spec's revision (the desired pod template). */
  desired: Revision;
  /** The pod-template hash of the live stable Deployment; '' before it exists. */
  stableHash: string;
  /** The revision the ready stable pods serve, if any. */
  servingHash: string | undefined;
  /** The figures of previous.step, when read; undefined when no router answered. */
  figures: StepFigures | undefined;
  now: string;
  /** spec.rollout.progressDeadlineSeconds: a step that has not compared its texts by then fails. */
  deadlineSeconds: number;
}

export interface CanaryEvent {
  type: 'Normal' | 'Warning';
  reason: 'CanaryStep' | 'CanaryPromoted' | 'CanaryRolledBack';
  message: string;
}

export interface CanaryDecision {
  status: CanaryStatus | undefined;
  /** Keep the stable Deployment (and the ConfigMap its pods read) on the template it has. */
  hold: boolean;
  /** Run the candidate for this step; absent: the candidate objects go. */
  run?: CanaryStep;
  event?: CanaryEvent;
  /** The rollback metric's check label, or 'promoted'. */
  outcome?: { promoted: true } | { rolledBack: string };
  recheckAfterMs?: number;
}

const describeStep = (i: number, steps: readonly CanaryStep[]) => {
  const s = steps[i];
  const what = s?.shadowPercent !== undefined ? `shadow ${s.shadowPercent}%` : `weight ${s?.weightPercent}%`;
  return `step ${i + 1}/${steps.length} (${what}, ${s?.texts} texts)`;
};

/**
 * The canary's state machine, with no I/O: from the spec, the last status and the figures, the
 * next status and what to do with the stable Deployment and the candidate. A new revision (a
 * spec change that moves the pod template while a stable one serves) starts at step 0; each
 * passed step moves on; the last one promotes: the stable Deployment gets the new template and
 * the candidate stays until the stable pods serve it. A failed check rolls back, and the
 * revision stays held until the spec moves on.
 */
export function decideCanary(i: CanaryInputs): CanaryDecision {
  const { canary, previous, desired } = i;
  const same = previous?.revision === desired.templateHash;
  const kept = previous && (previous.phase === 'Promoted' || previous.phase === 'RolledBack') ? previous : undefined;
  if (!canary) return { status: undefined, hold: false };
  const last = canary.steps.length - 1;
  if (same && previous.phase === 'Promoting') {
    if (i.stableHash === desired.templateHash && i.servingHash === desired.templateHash) {
      const status = { ...previous, phase: 'Promoted' as const, reason: 'Promoted', message: `revision ${short(desired.templateHash)} serves all traffic` };
      return { status, hold: false, event: { type: 'Normal', reason: 'CanaryPromoted', message: `promoted ${short(desired.templateHash)} (${desired.model ?? ''}) after ${canary.steps.length} steps` }, outcome: { promoted: true } };
    }
    return { status: previous, hold: false, run: canary.steps[Math.min(previous.step, last)] };
  }
  // Nothing to compare against: a first rollout, or the spec came back to what serves.
  if (i.stableHash === '' || i.stableHash === desired.templateHash || i.servingHash === undefined) return { status: kept, hold: false };
  if (same && previous.phase === 'RolledBack') return { status: previous, hold: true };
  if (!same || previous.phase !== 'Analyzing') {
    const status: CanaryStatus = {
      revision: desired.templateHash, ...(desired.model !== undefined ? { model: desired.model } : {}),
      phase: 'Analyzing', step: 0, stepStartedAt: i.now, reason: 'StepStarted', message: describeStep(0, canary.steps),
    };
    return { status, hold: true, run: canary.steps[0], event: { type: 'Normal', reason: 'CanaryStep', message: `canary ${short(desired.templateHash)}: ${status.message}` }, recheckAfterMs: CANARY_RECHECK_MS };
  }
  const index = Math.min(previous.step, last);
  const step = canary.steps[index] as CanaryStep;
  const elapsedSeconds = (Date.parse(i.now) - Date.parse(previous.stepStartedAt)) / 1000;
  const judged = i.figures && judge(i.figures, step, canary.analysis);
  // A candidate that never gets ready, or a step without traffic, would otherwise hold the rollout forever.
  const verdict: Verdict | undefined = (!judged || judged.result === 'wait') && elapsedSeconds > i.deadlineSeconds
    ? { result: 'fail', check: 'deadline', reason: 'StepDeadlineExceeded', message: `compared ${i.figures?.compared ?? 'no'} of ${step.texts} texts in ${Math.round(elapsedSeconds)} s (progressDeadlineSeconds ${i.deadlineSeconds})` }
    : judged;
  if (!verdict) return { status: previous, hold: true, run: step, recheckAfterMs: CANARY_RECHECK_MS };
  const analysis = i.figures ? analyze(i.figures) : (previous.analysis ?? { comparedTexts: 0 });
  if (verdict.result === 'wait') {
    return { status: { ...previous, step: index, reason: verdict.reason, message: `${describeStep(index, canary.steps)}: ${verdict.message}`, analysis }, hold: true, run: step, recheckAfterMs: CANARY_RECHECK_MS };
  }
  if (verdict.result === 'fail') {
    const message = `${describeStep(index, canary.steps)}: ${verdict.message}`;
    return {
      status: { ...previous, step: index, phase: 'RolledBack', reason: verdict.reason, message, analysis },
      hold: true,
      event: { type: 'Warning', reason: 'CanaryRolledBack', message: `rolled back ${short(desired.templateHash)}: ${verdict.reason}: ${message}` },
      outcome: { rolledBack: verdict.check ?? verdict.reason },
    };
  }
  if (index === last) {
    const message = `${describeStep(index, canary.steps)} passed: promoting`;
    return { status: { ...previous, step: index, phase: 'Promoting', reason: 'AllStepsPassed', message, analysis }, hold: false, run: step, event: { type: 'Normal', reason: 'CanaryStep', message: `canary ${short(desired.templateHash)}: ${message}` } };
  }
  const next = index + 1;
  const message = describeStep(next, canary.steps);
  return {
    status: { ...previous, step: next, stepStartedAt: i.now, reason: 'StepStarted', message, analysis: { comparedTexts: 0 } },
    hold: true,
    run: canary.steps[next],
    event: { type: 'Normal', reason: 'CanaryStep', message: `canary ${short(desired.templateHash)}: ${describeStep(index, canary.steps)} passed (${verdict.message}); ${message}` },
    recheckAfterMs: CANARY_RECHECK_MS,
  };
}

const short = (hash: string) => hash.slice(0, 12);

/** status.revisions' traffic shares while a canary runs: what the router sends each revision. */
export function trafficShares(canary: Canary | undefined, status: CanaryStatus | undefined): { serving: number; candidate?: { trafficPercent: number; shadowPercent?: number } } | undefined {
  if (!canary || status?.phase !== 'Analyzing') return undefined;
  const step = canary.steps[status.step];
  const weight = step?.weightPercent ?? 0;
  return { serving: 100 - weight, candidate: { trafficPercent: weight, ...(step?.shadowPercent !== undefined ? { shadowPercent: step.shadowPercent } : {}) } };
}
