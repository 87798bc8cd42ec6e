import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { CANARY_SERIES, CANDIDATE_DURATION_BUCKETS } from '#contract/canary.js';
import type { StepFigures } from '../controller/canary.js';
import { parseSamples } from '#contract/metrics-text.js';
import { addStep } from './scrape.js';

/** A router's /metrics as prom-client writes it, with the contract's series. */
async function routerText(compared: number, agreeing: number, otherStep = 0): Promise<string> {
  const registry = new Registry();
  const labelNames = ['namespace', 'model', 'revision', 'step'];
  const at = { namespace: 'ml', model: 'demo', revision: 'abc', step: '1' };
  const c = (name: string, extra: string[] = []) => new Counter({ name, help: 'h', labelNames: [...labelNames, ...extra], registers: [registry] });
  const comparedTexts = c(CANARY_SERIES.compared);
  comparedTexts.inc(at, compared);
  comparedTexts.inc({ ...at, step: '0' }, otherStep);
  c(CANARY_SERIES.agreeing).inc(at, agreeing);
  const neg = c(CANARY_SERIES.negative, ['side']);
  neg.inc({ ...at, side: 'stable' }, 3);
  neg.inc({ ...at, side: 'candidate' }, 4);
  const score = c(CANARY_SERIES.scoreSum, ['side', 'label']);
  score.inc({ ...at, side: 'stable', label: 'negative' }, 2.5);
  score.inc({ ...at, side: 'candidate', label: 'pos"it\\ive' }, 1.25);
  c(CANARY_SERIES.candidateRequests, ['outcome']).inc({ ...at, outcome: 'error' }, 2);
  const h = new Histogram({ name: CANARY_SERIES.candidateDuration, help: 'h', labelNames, buckets: [...CANDIDATE_DURATION_BUCKETS], registers: [registry] });
  h.observe(at, 0.02);
  h.observe(at, 0.3);
  return registry.metrics();
}

const empty = (): StepFigures => ({ compared: 0, agreeing: 0, negative: { stable: 0, candidate: 0 }, scoreSum: { stable: {}, candidate: {} }, requests: { ok: 0, error: 0, overloaded: 0 }, duration: [] });
const names = new Set([...Object.values(CANARY_SERIES), `${CANARY_SERIES.candidateDuration}_bucket`]);
const key = { namespace: 'ml', model: 'demo', revision: 'abc', step: 1 };

describe('canary scrape', () => {
  it('sums the step\'s series over two routers, leaving other steps out', async () => {
    const f = empty();
    addStep(f, parseSamples(await routerText(10, 9, 500), names), key);
    addStep(f, parseSamples(await routerText(20, 18), names), key);
    expect(f).toMatchObject({ compared: 30, agreeing: 27, negative: { stable: 6, candidate: 8 }, requests: { ok: 0, error: 4, overloaded: 0 } });
    expect(f.scoreSum).toEqual({ stable: { negative: 5 }, candidate: { 'pos"it\\ive': 2.5 } });
    expect(f.duration.find((b) => b.le === 0.025)?.count).toBe(2);
    expect(f.duration.at(-1)).toEqual({ le: Infinity, count: 4 });
  });

  it('skips lines that are not samples, and samples with broken labels or values', () => {
    const text = [
      '# HELP x y', `${CANARY_SERIES.compared}{namespace="ml",model="demo",revision="abc",step="1"} 5`,
      `${CANARY_SERIES.compared}{namespace="ml",model="demo",revision="abc",step="1" 7`,
      `${CANARY_SERIES.compared}{namespace="ml",model="demo",revision="abc",step="1",bad} 7`,
      `${CANARY_SERIES.compared}{namespace="ml",model="demo",revision="abc",step="1"} NaNish`,
      'garbage {', '',
    ].join('\n');
    expect(addStep(empty(), parseSamples(text, names), key).compared).toBe(5);
  });
});
