import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { Canary, type CanaryStatus } from '../api/v1alpha1/index.js';
import { analyze, decideCanary, judge, quantile, trafficShares, type CanaryInputs, type StepFigures } from './canary.js';

const canary = Value.Default(Canary, {
  steps: [{ shadowPercent: 100, texts: 200 }, { weightPercent: 10, texts: 200 }, { weightPercent: 50, texts: 200 }],
}) as Canary;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const NOW = '2026-12-03T07:00:00Z';

/** A duration histogram with every answer in the 25 ms bucket. */
const fast = (n: number) => [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity].map((le) => ({ le, count: le >= 0.025 ? n : 0 }));

/** Figures as a router exported them for the same SST-2 sentences: a good int8 candidate of the same model. */
const good: StepFigures = {
  compared: 230, agreeing: 226,
  negative: { stable: 104, candidate: 106 },
  scoreSum: { stable: { negative: 101.3, positive: 128.7 }, candidate: { negative: 102.9, positive: 127.1 } },
  requests: { ok: 230, error: 0, overloaded: 0 },
  duration: fast(230),
};
/** A candidate whose id2label is swapped: it names the other class for almost every text. */
const flipped: StepFigures = {
  compared: 230, agreeing: 21,
  negative: { stable: 104, candidate: 125 },
  scoreSum: { stable: { negative: 101.3, positive: 128.7 }, candidate: { negative: 128.7, positive: 101.3 } },
  requests: { ok: 230, error: 0, overloaded: 0 },
  duration: fast(230),
};

describe('analyze and judge', () => {
  it('passes a candidate that agrees within every threshold', () => {
    expect(analyze(good)).toEqual({ comparedTexts: 230, labelAgreement: 0.9826, negativeShareChange: 0.0087, scoreDrift: 0.007, errorRate: 0, p99LatencySeconds: 0.025 });
    expect(judge(good, canary.steps[0]!, canary.analysis).result).toBe('pass');
  });

  it('fails a label flip on agreement, naming measured value and threshold', () => {
    expect(judge(flipped, canary.steps[0]!, canary.analysis)).toEqual({
      result: 'fail', check: 'labelAgreement', reason: 'LabelAgreementTooLow', message: 'label agreement 0.0913 < 0.95 over 230 texts',
    });
  });

  it('waits for the step\'s texts, but fails early once 20 requests show errors', () => {
    const few = { ...good, compared: 50, agreeing: 50 };
    expect(judge(few, canary.steps[0]!, canary.analysis)).toMatchObject({ result: 'wait', message: 'compared 50 of 200 texts' });
    expect(judge({ ...few, requests: { ok: 15, error: 4, overloaded: 0 } }, canary.steps[0]!, canary.analysis).result).toBe('wait');
    expect(judge({ ...few, requests: { ok: 16, error: 4, overloaded: 9 } }, canary.steps[0]!, canary.analysis)).toMatchObject({ result: 'fail', check: 'errorRate', message: 'candidate error rate 0.2 > 0.01 over 20 requests' });
  });

  it('fails on negative share, score drift and latency', () => {
    const t = canary.analysis;
    expect(judge({ ...good, negative: { stable: 104, candidate: 130 } }, canary.steps[0]!, t).reason).toBe('NegativeShareChanged');
    expect(judge({ ...good, scoreSum: { stable: { positive: 100 }, candidate: { positive: 130 } } }, canary.steps[0]!, t).reason).toBe('ScoreDriftTooHigh');
    const slow = fast(230).map((b) => ({ ...b, count: b.le >= 2.5 ? 230 : b.le >= 0.025 ? 200 : 0 }));
    expect(judge({ ...good, duration: slow }, canary.steps[0]!, t)).toMatchObject({ reason: 'LatencyTooHigh', message: 'candidate p99 latency 2.5s > 1s' });
  });

  it('reads the p99 bucket bound, and nothing without observations', () => {
    expect(quantile([{ le: 0.1, count: 99 }, { le: 1, count: 100 }, { le: Infinity, count: 100 }], 0.99)).toBe(0.1);
    expect(quantile([{ le: Infinity, count: 0 }], 0.99)).toBeUndefined();
  });
});

describe('decideCanary', () => {
  const inputs = (over: Partial<CanaryInputs>): CanaryInputs => ({
    canary, previous: undefined, desired: { templateHash: B, model: 'm:2' }, stableHash: A, servingHash: A, figures: undefined, now: NOW, deadlineSeconds: 600, ...over,
  });
  const analyzing = (step: number): CanaryStatus => ({ revision: B, model: 'm:2', phase: 'Analyzing', step, stepStartedAt: NOW, reason: 'StepStarted', message: '' });

  it('leaves rollouts alone without spec.rollout.canary, on a first rollout and when nothing serves', () => {
    expect(decideCanary(inputs({ canary: undefined }))).toEqual({ status: undefined, hold: false });
    expect(decideCanary(inputs({ stableHash: '' }))).toEqual({ status: undefined, hold: false });
    expect(decideCanary(inputs({ servingHash: undefined }))).toEqual({ status: undefined, hold: false });
  });

  it('starts a new revision at step 0, holding the stable Deployment', () => {
    const d = decideCanary(inputs({}));
    expect(d).toMatchObject({ hold: true, run: canary.steps[0], recheckAfterMs: 2000, event: { reason: 'CanaryStep' } });
    expect(d.status).toMatchObject({ revision: B, phase: 'Analyzing', step: 0, message: 'step 1/3 (shadow 100%, 200 texts)' });
  });

  it('moves through the steps, then promotes and reports Promoted once the stable pods serve the candidate', () => {
    const second = decideCanary(inputs({ previous: analyzing(0), figures: good }));
    expect(second).toMatchObject({ hold: true, run: canary.steps[1], status: { step: 1, phase: 'Analyzing', analysis: { comparedTexts: 0 } } });
    const promoting = decideCanary(inputs({ previous: analyzing(2), figures: good }));
    expect(promoting).toMatchObject({ hold: false, run: canary.steps[2], status: { phase: 'Promoting', reason: 'AllStepsPassed' } });
    const rolling = decideCanary(inputs({ previous: promoting.status, stableHash: B, servingHash: A }));
    expect(rolling).toMatchObject({ hold: false, status: { phase: 'Promoting' } });
    const done = decideCanary(inputs({ previous: promoting.status, stableHash: B, servingHash: B }));
    expect(done).toMatchObject({ hold: false, status: { phase: 'Promoted' }, event: { reason: 'CanaryPromoted' }, outcome: { promoted: true } });
    expect(done.run).toBeUndefined();
    // The record stays, and writes nothing more.
    expect(decideCanary(inputs({ previous: done.status, stableHash: B, servingHash: B })).status).toBe(done.status);
  });

  it('rolls a failing candidate back and holds that revision until the spec changes', () => {
    const d = decideCanary(inputs({ previous: analyzing(1), figures: flipped }));
    expect(d).toMatchObject({
      hold: true, outcome: { rolledBack: 'labelAgreement' },
      status: { phase: 'RolledBack', reason: 'LabelAgreementTooLow', message: 'step 2/3 (weight 10%, 200 texts): label agreement 0.0913 < 0.95 over 230 texts' },
      event: { type: 'Warning', reason: 'CanaryRolledBack' },
    });
    expect(d.run).toBeUndefined();
    expect(decideCanary(inputs({ previous: d.status, figures: good }))).toEqual({ status: d.status, hold: true });
    expect(decideCanary(inputs({ previous: d.status, desired: { templateHash: 'c'.repeat(64) } })).status).toMatchObject({ phase: 'Analyzing', step: 0 });
  });

  it('waits while no router answered, and keeps the figures while texts are short', () => {
    expect(decideCanary(inputs({ previous: analyzing(0) }))).toEqual({ status: analyzing(0), hold: true, run: canary.steps[0], recheckAfterMs: 2000 });
    const d = decideCanary(inputs({ previous: analyzing(0), figures: { ...good, compared: 40, agreeing: 40 } }));
    expect(d.status).toMatchObject({ phase: 'Analyzing', step: 0, reason: 'Analyzing', analysis: { comparedTexts: 40 } });
  });
});

describe('decideCanary deadline', () => {
  it('rolls back a step that has not compared its texts within progressDeadlineSeconds, routers answering or not', () => {
    const started: CanaryStatus = { revision: B, phase: 'Analyzing', step: 1, stepStartedAt: NOW, reason: 'StepStarted', message: '' };
    const later = '2026-12-03T07:10:01Z';
    const base = { canary, previous: started, desired: { templateHash: B }, stableHash: A, servingHash: A, now: later, deadlineSeconds: 600 };
    expect(decideCanary({ ...base, figures: { ...good, compared: 12, agreeing: 12 } })).toMatchObject({
      hold: true, outcome: { rolledBack: 'deadline' },
      status: { phase: 'RolledBack', reason: 'StepDeadlineExceeded', message: 'step 2/3 (weight 10%, 200 texts): compared 12 of 200 texts in 601 s (progressDeadlineSeconds 600)', analysis: { comparedTexts: 12 } },
    });
    expect(decideCanary({ ...base, figures: undefined }).status).toMatchObject({ phase: 'RolledBack', reason: 'StepDeadlineExceeded', analysis: { comparedTexts: 0 } });
    expect(decideCanary({ ...base, now: '2026-12-03T07:09:59Z', figures: undefined }).status).toBe(started);
  });
});

describe('trafficShares', () => {
  it('gives the candidate its weight, and none for a shadow step', () => {
    const s = (step: number): CanaryStatus => ({ revision: B, phase: 'Analyzing', step, stepStartedAt: NOW, reason: '', message: '' });
    expect(trafficShares(canary, s(0))).toEqual({ serving: 100, candidate: { trafficPercent: 0, shadowPercent: 100 } });
    expect(trafficShares(canary, s(2))).toEqual({ serving: 50, candidate: { trafficPercent: 50 } });
    expect(trafficShares(canary, undefined)).toBeUndefined();
  });
});
