import { describe, expect, it } from 'vitest';
import { canaryView } from './view.js';

const model = (canary: unknown, steps: unknown, analysis: unknown = {}) => ({ spec: { rollout: { canary: { steps, analysis } } }, status: { canary } });
const steps = [{ shadowPercent: 100, texts: 200 }, { weightPercent: 10, texts: 200 }];

describe('canary view', () => {
  it('reads the step being analysed, its share and the negative label', () => {
    expect(canaryView(model({ phase: 'Analyzing', revision: 'abc', step: 0 }, steps))).toEqual({ revision: 'abc', step: 0, shadowPercent: 100, negativeLabel: 'negative' });
    expect(canaryView(model({ phase: 'Analyzing', revision: 'abc', step: 1 }, steps, { negativeLabel: 'NEG' }))).toEqual({ revision: 'abc', step: 1, weightPercent: 10, negativeLabel: 'neg' });
  });

  it.each([
    ['no canary status', { spec: {} }],
    ['a canary no longer analysed', model({ phase: 'Promoted', revision: 'abc', step: 0 }, steps)],
    ['a step past the steps', model({ phase: 'Analyzing', revision: 'abc', step: 2 }, steps)],
    ['a step that is no integer', model({ phase: 'Analyzing', revision: 'abc', step: '0' }, steps)],
    ['no revision', model({ phase: 'Analyzing', step: 0 }, steps)],
    ['an endless revision', model({ phase: 'Analyzing', revision: 'x'.repeat(300), step: 0 }, steps)],
    ['a step with both shares', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, [{ shadowPercent: 10, weightPercent: 10 }])],
    ['a step with neither', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, [{ texts: 1 }])],
    ['a share over 100', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, [{ weightPercent: 101 }])],
    ['more steps than the CRD allows', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, Array.from({ length: 11 }, () => steps[0]))],
    ['an analysis that is no object', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, steps, ['negative'])],
    ['steps that are no list', model({ phase: 'Analyzing', revision: 'abc', step: 0 }, { 0: steps[0] })],
    ['no object at all', null],
  ])('sees no canary in %s', (_what, object) => {
    expect(canaryView(object)).toBeUndefined();
  });
});
