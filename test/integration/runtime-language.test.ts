import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, requireShared, startRuntime, type Json } from '../support/runtime.js';

const ENGLISH = 'A gorgeous, witty, seductive movie.';
const CHINESE = '这家酒店的服务很好，房间也很干净。';
const JAPANESE = 'この映画は本当に面白かったです。';

type Runtime = Awaited<ReturnType<typeof startRuntime>>;

async function warnings(runtime: Runtime, texts: string[]): Promise<string[][]> {
  const { status, json } = await post(`${runtime.url}/v1/sentiment`, { texts });
  expect(status).toBe(200);
  return json.results.map((result: Json) => result.warnings);
}

/** The real models from ../shared: the wrong-language warning in both directions. */
describe('text in a language the model was not trained on', () => {
  const runtimes: Runtime[] = [];
  const start = async (path: string): Promise<Runtime> => {
    const runtime = await startRuntime({ model: { path, quantization: 'int8' }, cache: { enabled: false } });
    runtimes.push(runtime);
    return runtime;
  };
  let english: Runtime;
  let chinese: Runtime;

  beforeAll(async () => {
    english = await start(requireShared(models.english));
    chinese = await start(requireShared(models.chinese));
  });
  afterAll(async () => {
    await Promise.all(runtimes.map((runtime) => runtime.close()));
  });

  it('on the English model: Chinese and Japanese are flagged, English is not', async () => {
    expect(await warnings(english, [ENGLISH, CHINESE, JAPANESE])).toEqual([
      [],
      ['the text is written in Han script, which this model (Latin script) was not trained on: its score says little'],
      ['the text is written in Hiragana, Han script, which this model (Latin script) was not trained on: its score says little'],
    ]);
  });

  it('on the Chinese model: English and Japanese are flagged, Chinese is not', async () => {
    expect(await warnings(chinese, [CHINESE, ENGLISH, JAPANESE])).toEqual([
      [],
      ['the text is written in Latin script, which this model (Han script) was not trained on: its score says little'],
      ['the text is written in Hiragana script, which this model (Han script) was not trained on: its score says little'],
    ]);
  });

  it('/v1/model says which scripts each model reads', async () => {
    expect((await (await fetch(`${english.url}/v1/model`)).json()) as Json).toMatchObject({ languages: [], scripts: ['Latn'] });
    expect((await (await fetch(`${chinese.url}/v1/model`)).json()) as Json).toMatchObject({ languages: [], scripts: ['Hani'] });
  });

  it('a language declared in config.json wins over the vocabulary', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'model-')), 'm');
    cpSync(requireShared(models.chinese), dir, { recursive: true, filter: (source) => !source.endsWith('model.onnx') });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, language: ['zh', 'ja'] }));
    const declared = await start(dir);
    expect((await (await fetch(`${declared.url}/v1/model`)).json()) as Json).toMatchObject({ languages: ['zh', 'ja'], scripts: ['Hani', 'Hira', 'Kana'] });
    expect(await warnings(declared, [JAPANESE, ENGLISH])).toEqual([[], ['the text is written in Latin script, which this model (zh, ja) was not trained on: its score says little']]);
  });
});
