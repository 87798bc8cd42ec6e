import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statFields } from '../../../hack/bench/procfs.js';
import { readManifest } from '../model/manifest.js';
import type { Batch } from './backend.js';
import { INFERENCE_NICENESS, OnnxBackend } from './onnx.js';

const demo = join(import.meta.dirname, '..', '..', '..', 'models', 'sst2-bert-mini-en');

function batch(rows: number[][]): Batch {
  const columns = Math.max(...rows.map((r) => r.length));
  const inputIds = new BigInt64Array(rows.length * columns);
  const attentionMask = new BigInt64Array(rows.length * columns);
  rows.forEach((row, r) => row.forEach((id, c) => {
    inputIds[r * columns + c] = BigInt(id);
    attentionMask[r * columns + c] = 1n;
  }));
  return { rows: rows.length, columns, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(rows.length * columns) };
}

/** Niceness of each thread of this process: fields[16] is the stat line's 19th field. */
function threadNiceness(): number[] {
  return readdirSync('/proc/self/task').map((tid) => Number(statFields(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')).fields[16]));
}

// [CLS] a great movie [SEP] / [CLS] terrible [SEP] in the bert-base-uncased vocabulary.
const GREAT = [101, 1037, 2307, 3185, 102];
const TERRIBLE = [101, 6659, 102];

describe('OnnxBackend (real onnxruntime session in a worker thread)', () => {
  let backend: OnnxBackend;
  beforeAll(async () => {
    backend = await OnnxBackend.open(readManifest(demo, {}), { executionProvider: 'cpu', cudaDeviceId: 0, allowCpuFallback: false, sessions: 1, intraOpThreads: 1, interOpThreads: 1, spinWait: false, concurrentBatches: 1, warmupTexts: 1 }, () => {});
  });
  afterAll(async () => backend?.close());

  it('reports the model signature and the provider that runs', () => {
    expect(backend.info).toEqual({ executionProvider: 'cpu', requestedProvider: 'cpu', inputNames: ['input_ids', 'attention_mask', 'token_type_ids'], numLabels: 2 });
  });

  it('returns row-major logits and padding does not change a row\'s answer', async () => {
    const { logits: alone } = await backend.run(batch([TERRIBLE]));
    const { logits: padded } = await backend.run(batch([GREAT, TERRIBLE]));
    expect(padded).toHaveLength(4);
    expect(padded[0]! < padded[1]!).toBe(true); // "a great movie": positive logit wins
    expect(padded[2]! > padded[3]!).toBe(true); // "terrible": negative logit wins
    // Dynamic int8 quantization scales activations per batch, so batch mates move logits by ~1e-3.
    expect(padded[2]).toBeCloseTo(alone[0]!, 2);
    expect(padded[3]).toBeCloseTo(alone[1]!, 2);
  });

  it('reports the CPU time the session spent on each run, more for more tokens', async () => {
    // One run's CPU time is as coarse as the kernel's accounting: compare sums over many.
    const cpuSeconds = async (texts: number[][]): Promise<number> => {
      let sum = 0;
      for (let i = 0; i < 30; i++) sum += (await backend.run(batch(texts))).runCpuSeconds;
      return sum;
    };
    const short = await cpuSeconds([GREAT]);
    const long = await cpuSeconds(Array.from({ length: 64 }, () => TERRIBLE));
    expect(short).toBeGreaterThanOrEqual(0);
    expect(long).toBeGreaterThan(2 * short);
  });

  it('rejects a malformed batch without losing the session', async () => {
    const broken = { ...batch([GREAT]), columns: 7 };
    await expect(backend.run(broken)).rejects.toThrow(/inference failed/);
    expect(backend.failure).toBeUndefined();
    expect((await backend.run(batch([GREAT]))).logits).toHaveLength(2);
  });

  it('runs inference at the lowest priority, onnxruntime\'s pool threads included, so the serving threads come first', async () => {
    const serving = getPriority();
    expect(serving).toBeLessThan(INFERENCE_NICENESS);
    const count = (): number => threadNiceness().filter((nice) => nice === INFERENCE_NICENESS).length;
    const before = count();
    const pool = await OnnxBackend.open(readManifest(demo, {}), { executionProvider: 'cpu', cudaDeviceId: 0, allowCpuFallback: false, sessions: 1, intraOpThreads: 3, interOpThreads: 1, spinWait: false, concurrentBatches: 1, warmupTexts: 1 }, () => {});
    try {
      // The worker thread and the two pool threads onnxruntime starts beside it.
      expect(count() - before).toBe(3);
      expect(getPriority()).toBe(serving);
    } finally {
      await pool.close();
    }
  });

  it('spreads batches over several sessions, each answering as one session would', async () => {
    const pool = await OnnxBackend.open(readManifest(demo, {}), { executionProvider: 'cpu', cudaDeviceId: 0, allowCpuFallback: false, sessions: 2, intraOpThreads: 1, interOpThreads: 1, spinWait: false, concurrentBatches: 1, warmupTexts: 1 }, () => {});
    try {
      const { logits: alone } = await backend.run(batch([GREAT, TERRIBLE]));
      const answers = await Promise.all(Array.from({ length: 6 }, () => pool.run(batch([GREAT, TERRIBLE]))));
      for (const answer of answers) expect(Array.from(answer.logits)).toEqual(Array.from(alone));
    } finally {
      await pool.close();
    }
  });
});
