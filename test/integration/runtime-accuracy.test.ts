import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, readTsv, requireShared, sharedDir, startRuntime } from '../support/runtime.js';

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
    const chunks = Array.from({ length: Math.ceil(rows.length / 50) }, (_, i) => rows.slice(i * 50, (i + 1) * 50));
    // Concurrent requests, so batches mix texts from different requests as they do in production.
    const answers = await Promise.all(
      chunks.map(async (chunk) => {
        const response = await post(`${runtime.url}/v1/sentiment`, { texts: chunk.map((row) => row.sentence) });
        expect(response.status).toBe(200);
        return response.json.results as { label: string }[];
      }),
    );
    const predicted = answers.flat().map((result) => (result.label === 'positive' ? 1 : 0));
    const correct = predicted.filter((label, i) => label === rows[i]!.label).length;
    expect(predicted).toHaveLength(rows.length);
    expect(Math.abs(correct / rows.length - accuracy)).toBeLessThan(tolerance(quantization, rows.length));
  });
});
