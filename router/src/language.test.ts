import { describe, expect, it } from 'vitest';
import { scriptsOfLanguage } from '#contract/language.js';
import { reassemble, splitByLanguage } from './language.js';

const routes = [
  { language: 'zh', scripts: scriptsOfLanguage('zh'), model: 'reviews-zh' },
  { language: 'ko', scripts: scriptsOfLanguage('ko'), model: 'reviews-ko' },
];

describe('splitByLanguage', () => {
  it('groups mixed texts by the model of their script, each part in request order, parts by their first text', () => {
    const texts = ['A gorgeous, witty movie.', '这家酒店的服务很好', '정말 좋아요', 'Boring.', '房间太小了，不推荐', '123 !!'];
    expect(splitByLanguage(texts, routes)).toEqual([
      { model: undefined, indexes: [0, 3, 5] },
      { model: 'reviews-zh', indexes: [1, 4] },
      { model: 'reviews-ko', indexes: [2] },
    ]);
  });

  it('goes by the script most words are in: a Chinese review naming a product in Latin letters stays Chinese', () => {
    expect(splitByLanguage(['iPhone 的电池续航太差了，非常失望', 'The 酒店 was lovely and quiet'], routes)).toEqual([
      { model: 'reviews-zh', indexes: [0] },
      { model: undefined, indexes: [1] },
    ]);
  });

  it('keeps a request in one language in one part, and an empty one in none', () => {
    expect(splitByLanguage(['好', '很好', '不好'], routes)).toEqual([{ model: 'reviews-zh', indexes: [0, 1, 2] }]);
    expect(splitByLanguage(['good', 'bad'], routes)).toEqual([{ model: undefined, indexes: [0, 1] }]);
    expect(splitByLanguage([], routes)).toEqual([]);
  });

  it('takes the first route whose language reads the script (ja before zh sends Han texts to ja)', () => {
    const jaFirst = [{ language: 'ja', scripts: scriptsOfLanguage('ja'), model: 'ja' }, ...routes];
    expect(splitByLanguage(['这家酒店很好', 'このホテルはとても良い'], jaFirst)).toEqual([{ model: 'ja', indexes: [0, 1] }]);
  });
});

describe('reassemble', () => {
  it('puts each part\'s results back at the positions of its texts', () => {
    const parts = [{ indexes: [0, 3], results: ['en0', 'en3'] }, { indexes: [1, 2], results: ['zh1', 'zh2'] }];
    expect(reassemble(4, parts)).toEqual(['en0', 'zh1', 'zh2', 'en3']);
    expect(reassemble(0, [])).toEqual([]);
  });

  it('refuses parts whose results do not match their texts', () => {
    expect(() => reassemble(2, [{ indexes: [0, 1], results: ['one'] }])).toThrow('a part of 2 texts came back with 1 results');
    expect(() => reassemble(3, [{ indexes: [0, 1], results: ['a', 'b'] }])).toThrow('the parts hold 2 results for 3 texts');
  });
});
