import { describe, expect, it } from 'vitest';
import { compare, textAnswers } from './compare.js';

// Scores that are exact in binary, so that sums compare equal.
const ranking = (best: string, score: number, other: string) => [{ label: best, score }, { label: other, score: 1 - score }];

describe('canary answers', () => {
  it('reads one answer per text from each API', () => {
    const sentiment = { model: 'm', revision: 'r', results: [{ label: 'positive', score: 0.75, scores: ranking('positive', 0.75, 'negative'), truncated: false, warnings: [] }] };
    expect(textAnswers('sentiment', sentiment)).toEqual([{ label: 'positive', scores: new Map([['positive', 0.75], ['negative', 0.25]]) }]);
    expect(textAnswers('predict', ranking('negative', 0.625, 'positive'))).toEqual([{ label: 'negative', scores: new Map([['negative', 0.625], ['positive', 0.375]]) }]);
    expect(textAnswers('predict', [ranking('negative', 0.8, 'positive'), ranking('positive', 0.7, 'negative')])?.map((a) => a.label)).toEqual(['negative', 'positive']);
    // raw_scores answers carry logits: the label counts, the numbers are no probabilities.
    expect(textAnswers('predict', [{ label: 'negative', score: 3.2 }, { label: 'positive', score: -1 }], false)).toEqual([{ label: 'negative' }]);
    const v2 = { model_name: 'm', outputs: [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['negative', 'positive'] }, { name: 'probability', data: [0.9, 0.8] }] };
    expect(textAnswers('v2', v2)).toEqual([{ label: 'negative' }, { label: 'positive' }]);
  });

  it.each([
    ['sentiment', undefined], ['sentiment', { results: [{ label: 'x', scores: 'no' }] }], ['sentiment', { results: [{ label: 7, scores: [] }] }],
    ['sentiment', { results: [{ label: 'a', scores: [{ label: 'a', score: 1 }, { label: 'a', score: 0 }] }] }],
    ['predict', []], ['predict', [{ label: 'a', score: 'high' }]], ['predict', { label: 'a' }],
    ['v2', { outputs: [{ name: 'probability', data: [1] }] }], ['v2', { outputs: [{ name: 'label', data: [1] }] }], ['v2', 'text'],
  ] as const)('refuses a %s answer not of its shape: %j', (api, answer) => {
    expect(textAnswers(api, answer)).toBeUndefined();
  });

  it('counts agreement, negatives per side (any case) and the scores both sides gave a class', () => {
    const stable = [
      { label: 'NEGATIVE', scores: new Map([['NEGATIVE', 0.875], ['POSITIVE', 0.125]]) },
      { label: 'POSITIVE', scores: new Map([['POSITIVE', 0.5625], ['NEGATIVE', 0.4375]]) },
      { label: 'POSITIVE' },
    ];
    const candidate = [
      { label: 'NEGATIVE', scores: new Map([['NEGATIVE', 0.75], ['POSITIVE', 0.25]]) },
      // topK 1: only the class it names is compared.
      { label: 'NEGATIVE', scores: new Map([['NEGATIVE', 0.5]]) },
      { label: 'POSITIVE' },
    ];
    expect(compare(stable, candidate, 'negative')).toEqual({
      compared: 3, agreeing: 2, negative: { stable: 1, candidate: 2 },
      scoreSums: { stable: new Map([['NEGATIVE', 1.3125], ['POSITIVE', 0.125]]), candidate: new Map([['NEGATIVE', 1.25], ['POSITIVE', 0.25]]) },
    });
  });

  it('does not compare answers to different numbers of texts', () => {
    expect(compare([{ label: 'a' }], [{ label: 'a' }, { label: 'b' }], 'negative')).toBeUndefined();
    expect(compare([], [], 'negative')).toBeUndefined();
  });
});
