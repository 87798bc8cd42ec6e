import ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import type { ModelManifest } from '../../runtime/src/model/manifest.js';
import { cpuSample, cpuShare, measureQuietly, percentile, type Patience } from './stats.js';

export interface RawRow {
  batchSize: number;
  sentencesPerSec: number;
  /** Per call: tokenize + pad + session.run of one batch. */
  p50Ms: number;
  p99Ms: number;
  calls: number;
  /** Cores' worth of CPU used by this process and by everything else on the machine. */
  cpu: { self: number; other: number };
}

/**
 * The ceiling the server is measured against: the same session options and tokenizer settings
 * the server uses, called back to back in this process with no HTTP, queue or worker hop.
 */
export async function rawCeiling(
  manifest: ModelManifest,
  config: RuntimeConfig,
  sentences: string[],
  batchSizes: number[],
  seconds: number,
  warmupSeconds: number,
  patience: Patience,
): Promise<RawRow[]> {
  // Mirrors runtime/src/backends/onnx-worker.ts so both sides run the identical session (that file
  // stays self-contained to load as a worker, so the options are repeated here).
  const session = await ort.InferenceSession.create(manifest.onnxFile, {
    executionProviders: config.session.executionProvider === 'cuda' ? [{ name: 'cuda', deviceId: config.session.cudaDeviceId }] : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(config.session.intraOpThreads > 0 ? { intraOpNumThreads: config.session.intraOpThreads } : {}),
    ...(config.session.interOpThreads > 0 ? { interOpNumThreads: config.session.interOpThreads } : {}),
    extra: { session: { intra_op: { allow_spinning: config.session.spinWait ? '1' : '0' }, inter_op: { allow_spinning: config.session.spinWait ? '1' : '0' } } },
  });
  const tokenizer = Tokenizer.fromFile(manifest.tokenizerFile);
  tokenizer.disablePadding();
  tokenizer.setTruncation(Math.min(config.model.maxSequenceLength, manifest.maxPositionEmbeddings));
  const usesTypeIds = session.inputNames.includes('token_type_ids');
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  let cursor = 0;

  const call = async (batchSize: number): Promise<void> => {
    const texts: string[] = [];
    for (let i = 0; i < batchSize; i++) texts.push(sentences[cursor++ % sentences.length]!);
    const encodings = await tokenizer.encodeBatch(texts);
    const ids = encodings.map((encoding) => encoding.getIds());
    const typeIds = encodings.map((encoding) => encoding.getTypeIds());
    // Padded to the longest row of this batch, as the server's batcher does.
    const columns = Math.max(...ids.map((row) => row.length));
    const shape = [batchSize, columns];
    const inputIds = new BigInt64Array(batchSize * columns).fill(BigInt(manifest.padTokenId));
    const attentionMask = new BigInt64Array(batchSize * columns);
    const tokenTypeIds = new BigInt64Array(batchSize * columns);
    ids.forEach((row, r) => {
      for (let i = 0; i < row.length; i++) {
        inputIds[r * columns + i] = BigInt(row[i]!);
        attentionMask[r * columns + i] = 1n;
        tokenTypeIds[r * columns + i] = BigInt(typeIds[r]![i] ?? 0);
      }
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, shape),
      attention_mask: new ort.Tensor('int64', attentionMask, shape),
    };
    if (usesTypeIds) feeds.token_type_ids = new ort.Tensor('int64', tokenTypeIds, shape);
    const output = await session.run(feeds, [outputName]);
    // The server copies the logits out of onnxruntime's memory too.
    (output[outputName]!.data as Float32Array).slice();
  };

  const rows: RawRow[] = [];
  try {
    for (const batchSize of batchSizes) {
      const warmEnd = performance.now() + warmupSeconds * 1000;
      while (performance.now() < warmEnd) await call(batchSize);
      rows.push(
        await measureQuietly(patience, async (): Promise<RawRow> => {
          const times: number[] = [];
          const cpuBefore = cpuSample();
          const started = performance.now();
          const end = started + seconds * 1000;
          while (performance.now() < end) {
            const t0 = performance.now();
            await call(batchSize);
            times.push(performance.now() - t0);
          }
          const elapsed = (performance.now() - started) / 1000;
          const { client: self, other } = cpuShare(cpuBefore, cpuSample());
          return { batchSize, sentencesPerSec: (times.length * batchSize) / elapsed, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), calls: times.length, cpu: { self, other } };
        }),
      );
    }
  } finally {
    await session.release();
  }
  return rows;
}
