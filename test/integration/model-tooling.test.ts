import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracyThroughApi, models, readTsv, repoRoot, requireShared, sharedDir, startRuntime, type Json } from '../support/runtime.js';

/**
 * hack/model/quantize.py on the English demo model: from its fp32 onnx/model.onnx alone it writes
 * the int8 and fp16 variants, and the runtime serves each through its HTTP API within the bound
 * of the model card's fp32 dev accuracy (issue 5: 1 point for int8; issue 6: 0.5 point for fp16).
 * fp16 is served here by onnxruntime-node's CPU provider, which runs the float16 graph as it is
 * (casting around the ops that have no float16 CPU kernel; slower than fp32, but the same answers
 * as on a GPU up to rounding), so both variants are measured through the runtime.
 */
const FP32_ACCURACY = 0.8245;
const DEV = join(sharedDir, 'data', 'sst2', 'dev.tsv');
const variants = [
  { quantization: 'int8', file: 'model_quantized.onnx', tolerance: 0.01, maxSizeRatio: 0.3 },
  { quantization: 'fp16', file: 'model_fp16.onnx', tolerance: 0.005, maxSizeRatio: 0.55 },
] as const;

/** SENTIMENT_MODEL_PYTHON if the caller set it, else the venv hack/model/setup.sh creates or reuses. */
function modelPython(): string {
  const fromEnv = process.env.SENTIMENT_MODEL_PYTHON;
  if (fromEnv) return fromEnv;
  try {
    const output = execFileSync('bash', [join(repoRoot, 'hack', 'model', 'setup.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return output.trim().split('\n').at(-1)!;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`hack/model/setup.sh could not provide the model tools' Python (or set SENTIMENT_MODEL_PYTHON to one with hack/model/requirements.txt installed): ${stderr || (error as Error).message}`);
  }
}

function runPython(python: string, script: string, args: string[]): string {
  try {
    return execFileSync(python, [join(repoRoot, 'hack', 'model', script), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`${script} ${args.join(' ')} failed: ${String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim()}`);
  }
}

describe('model tooling: quantize the demo model, serve the variants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-tooling-'));
  let python = '';
  let summary = '';

  beforeAll(() => {
    python = modelPython();
    // The model as an export leaves it: config, tokenizer and the fp32 graph, no variants yet.
    const source = requireShared(models.english);
    mkdirSync(join(dir, 'onnx'));
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) copyFileSync(join(source, file), join(dir, file));
    summary = runPython(python, 'quantize.py', [dir, '--int8', '--fp16']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes both variants with the runtime-facing signature unchanged', () => {
    const lines = summary.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const [i, { file }] of variants.entries()) {
      expect(lines[i]).toContain(join(dir, 'onnx', file));
      expect(lines[i]).toContain('inputs [input_ids:tensor(int64), attention_mask:tensor(int64), token_type_ids:tensor(int64)]');
      expect(lines[i]).toContain('outputs [logits:tensor(float)]');
    }
  });

  describe.each(variants)('$quantization', ({ quantization, file, tolerance, maxSizeRatio }) => {
    let runtime: Awaited<ReturnType<typeof startRuntime>>;

    beforeAll(async () => {
      runtime = await startRuntime({ model: { path: dir, quantization }, cache: { enabled: false } });
    });
    afterAll(async () => runtime?.close());

    it('is smaller than the fp32 graph and is the file the runtime serves', async () => {
      expect(statSync(join(dir, 'onnx', file)).size).toBeLessThan(maxSizeRatio * statSync(join(dir, 'onnx', 'model.onnx')).size);
      const model: Json = await (await fetch(`${runtime.url}/v1/model`)).json();
      expect(model).toMatchObject({ quantization, executionProvider: 'cpu' });
    });

    it(`stays within ${tolerance * 100} point of ${FP32_ACCURACY} on SST-2 dev, through the HTTP API and in evaluate.py alike`, async () => {
      const rows = readTsv(DEV);
      const accuracy = await accuracyThroughApi(runtime.url, rows);
      expect(Math.abs(accuracy - FP32_ACCURACY)).toBeLessThanOrEqual(tolerance);

      // The quick Python check agrees with the runtime on the same file. int8's dynamic quantization
      // scales over the whole batch, so batch mates can flip a borderline sentence or two.
      const line = runPython(python, 'evaluate.py', [dir, DEV, '--variant', quantization]);
      const agreement = quantization === 'int8' ? 2 / rows.length + 1e-9 : 0.00005;
      expect(Math.abs(Number(/accuracy ([0-9.]+)/.exec(line)?.[1]) - accuracy)).toBeLessThan(agreement);
    });
  });
});

describe('model tooling: export.py before its heavy dependencies load', () => {
  const script = join(repoRoot, 'hack', 'model', 'export.py');

  it('names the set-up step instead of a raw ModuleNotFoundError when optimum is missing', () => {
    const checkpoint = mkdtempSync(join(tmpdir(), 'checkpoint-'));
    try {
      writeFileSync(join(checkpoint, 'config.json'), '{}');
      // -S leaves site-packages out, so optimum cannot be importable whatever this machine has installed.
      const run = spawnSync('python3', ['-S', script, checkpoint, join(checkpoint, 'out')], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr.trim()).toBe('export.py needs optimum, which is not installed in this Python: run it with the one `hack/model/setup.sh --export` prints on its last line');
    } finally {
      rmSync(checkpoint, { recursive: true, force: true });
    }
  });

  it('reads label names from id2label, and falls back to num_labels placeholders when recent transformers omit it', () => {
    const cases = [{ id2label: { 1: 'positive', 0: 'negative' } }, { num_labels: 3 }, {}];
    const code = `import json, sys; sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'hack', 'model'))}); from export import label_names; print(json.dumps([label_names(c) for c in json.loads(sys.argv[1])]))`;
    const output = execFileSync('python3', ['-S', '-c', code, JSON.stringify(cases)], { encoding: 'utf8' });
    expect(JSON.parse(output)).toEqual([
      [['negative', 'positive'], false],
      [['LABEL_0', 'LABEL_1', 'LABEL_2'], true],
      [['LABEL_0', 'LABEL_1'], true],
    ]);
  });
});
