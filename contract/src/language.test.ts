import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { models, readTsv, requireShared, sharedDir } from '../../test/support/runtime.js';
import { dominantScript, foreignScripts, modelLanguage, scriptNames } from './language.js';

const vocabulary = (dir: string): string[] => Object.keys(Tokenizer.fromFile(requireShared(join(dir, 'tokenizer.json'))).getVocab());
const english = modelLanguage([], vocabulary(models.english));
const chinese = modelLanguage([], vocabulary(models.chinese));

const JAPANESE = ['この映画は本当に面白かったです。', 'サービスがとても悪くて、二度と行きません。', '部屋はきれいで、スタッフも親切でした。', 'ひどい映画だった'];
const KOREAN = ['이 영화는 정말 재미있었어요.'];

/** Share of `texts` a model reading `scripts` flags. */
const flagged = (texts: string[], scripts: string[]) => texts.filter((text) => foreignScripts(text, scripts).length > 0).length / texts.length;

describe('the scripts a model reads', () => {
  it('come from the vocabulary when the model declares no language', () => {
    expect(english).toEqual({ languages: [], scripts: ['Latn'] });
    expect(chinese).toEqual({ languages: [], scripts: ['Hani'] });
  });

  it('come from the declared languages, with the scripts their texts mix', () => {
    expect(modelLanguage(['ja'], []).scripts).toEqual(['Hani', 'Hira', 'Kana']);
    expect(modelLanguage(['zh-Hant'], []).scripts).toEqual(['Hani']);
    expect(modelLanguage(['en', 'ru'], []).scripts).toEqual(['Latn', 'Cyrl']);
    expect(modelLanguage(['not a tag'], []).scripts).toEqual([]);
  });

  it('are none for a vocabulary no one script dominates, so nothing is flagged', () => {
    const mixed = modelLanguage([], [...vocabulary(models.english).slice(2000, 20000), ...vocabulary(models.chinese).filter((t) => /\p{Script=Han}/u.test(t))]);
    expect(mixed.scripts).toEqual([]);
    expect(foreignScripts('この映画は本当に面白かったです。', mixed.scripts)).toEqual([]);
  });
});

describe('a text in a script the model does not read', () => {
  const sst2 = readTsv(join(sharedDir, 'data/sst2/dev.tsv')).map((row) => row.sentence);
  const uci = ['amazon', 'imdb', 'yelp'].flatMap((file) => readTsv(join(sharedDir, `data/uci-sentences/${file}.tsv`)).map((row) => row.sentence));
  const chnsenticorp = readTsv(join(sharedDir, 'data/chnsenticorp/dev.tsv')).map((row) => row.sentence);

  it('is flagged in both directions: Chinese to the English model, English and Japanese to the Chinese one', () => {
    const rates = { zhToEn: flagged(chnsenticorp, english.scripts), enToZh: flagged(sst2, chinese.scripts), jaToZh: flagged(JAPANESE, chinese.scripts), koToZh: flagged(KOREAN, chinese.scripts) };
    console.log('flagged:', rates);
    expect(rates.zhToEn).toBeGreaterThan(0.99);
    expect(rates.enToZh).toBeGreaterThan(0.99);
    expect(rates.jaToZh).toBe(1);
    expect(rates.koToZh).toBe(1);
  });

  it('is rarely flagged on the language the model reads', () => {
    const rates = { enOnEn: flagged([...sst2, ...uci], english.scripts), zhOnZh: flagged(chnsenticorp, chinese.scripts) };
    console.log('false alarms:', rates);
    expect(rates.enOnEn).toBe(0);
    expect(rates.zhOnZh).toBeLessThan(0.005);
  });

  it('names the foreign scripts, most letters first', () => {
    expect(foreignScripts('この映画は本当に面白かったです。', chinese.scripts)).toEqual(['Hira']);
    expect(foreignScripts('サービスがとても悪くて', chinese.scripts)).toEqual(['Hira', 'Kana']);
    expect(scriptNames(['Hira', 'Kana', 'Latn'])).toBe('Hiragana, Katakana, Latin');
    // A brand name in a Chinese review is not another language.
    expect(foreignScripts('iPhone手机的屏幕很好，电池也耐用，非常满意。', chinese.scripts)).toEqual([]);
    expect(foreignScripts('12345 !!!', chinese.scripts)).toEqual([]);
  });
});

describe('the script most of a text is written in', () => {
  it('is Latin for every SST-2 dev sentence and Han for (almost) every ChnSentiCorp dev review', () => {
    const sst2 = readTsv(join(sharedDir, 'data/sst2/dev.tsv')).map((row) => row.sentence);
    const chnsenticorp = readTsv(join(sharedDir, 'data/chnsenticorp/dev.tsv')).map((row) => row.sentence);
    const share = (texts: string[], script: string) => texts.filter((text) => dominantScript(text) === script).length / texts.length;
    const shares = { sst2Latin: share(sst2, 'Latn'), chnsenticorpHan: share(chnsenticorp, 'Hani') };
    console.log('dominant script:', shares);
    expect(shares.sst2Latin).toBe(1);
    expect(shares.chnsenticorpHan).toBeGreaterThan(0.995);
  });

  it('counts words, not letters, and is none for a text without letters', () => {
    expect(dominantScript('iPhone手机的屏幕很好')).toBe('Hani');
    expect(dominantScript('The 酒店 was lovely and quiet')).toBe('Latn');
    expect(dominantScript('이 영화는 정말 재미있었어요.')).toBe('Hang');
    expect(dominantScript('12345 !!! 🙂')).toBeUndefined();
  });
});
