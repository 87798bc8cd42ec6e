import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracyThroughApi, models, readTsv, requireShared, sharedDir, startRuntime } from '../support/runtime.js';

/**
 * The correctness bar: through the HTTP API, the runtime reproduces the model cards' dev-set
 * accuracy. Any tokenization, padding, masking or label-order mistake moves these numbers.
 *
 * fp32 must match to the fourth decimal. int8 models use dynamic quantization, which scales
 * activations over the whole batch tensor, so a text's logits move by ~1e-3 with its batch mates
 * (see runtime/src/backends/onnx.test.ts): under concurrent requests a borderline sentence can
 * flip, so int8 may differ by up to two sentences.
 */
const tolerance = (quantization: string, rows: number): number => (quantization === 'int8' ? 2 / rows + 1e-9 : 0.00006);
const cases = [
  { name: 'English fp32', model: models.english, quantization: 'none', data: 'sst2/dev.tsv', accuracy: 0.8245 },
  { name: 'English int8', model: models.english, quantization: 'int8', data: 'sst2/dev.tsv', accuracy: 0.8234 },
  { name: 'English int8 (bundled demo model)', model: models.demo, quantization: 'int8', data: 'sst2/dev.tsv', accuracy: 0.8234 },
  { name: 'Chinese fp32', model: models.chinese, quantization: 'none', data: 'chnsenticorp/dev.tsv', accuracy: 0.9092 },
  { name: 'Chinese int8', model: models.chinese, quantization: 'int8', data: 'chnsenticorp/dev.tsv', accuracy: 0.9092 },
] as const;

describe.each(cases)('accuracy: $name', ({ model, quantization, data, accuracy }) => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;

  beforeAll(async () => {
    runtime = await startRuntime({ model: { path: requireShared(model), quantization }, cache: { enabled: false } });
  });
  afterAll(async () => runtime?.close());

  it(`reproduces ${accuracy} on ${data}`, async () => {
    const rows = readTsv(`${sharedDir}/data/${data}`);
    const accuracyMeasured = await accuracyThroughApi(runtime.url, rows);
    expect(Math.abs(accuracyMeasured - accuracy)).toBeLessThan(tolerance(quantization, rows.length));
  });
});
