// Where a single request's time goes (issue 13, "Less per request"): each stage of the serving
// path timed on its own, one text at a time, so the gap between raw onnxruntime and the served
// p50 can be split by subtraction. Not a test: it prints numbers.
import { request, Agent } from 'node:http';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { OnnxBackend } from '../../runtime/src/backends/onnx.js';
import type { Batch } from '../../runtime/src/backends/backend.js';
import { loadConfig } from '../../runtime/src/config/load.js';
import { Batcher } from '../../runtime/src/core/batcher.js';
import { Classifier } from '../../runtime/src/core/infer.js';
import { BatchQueue } from '../../runtime/src/core/queue.js';
import { TextEncoder, type EncodedText } from '../../runtime/src/core/tokenizer.js';
import { resolveLayout } from '../../runtime/src/model/load.js';
import { readManifest } from '../../runtime/src/model/manifest.js';
import { readSentences } from './sentences.js';
import { BENCH_SERVER_FLAGS, startServer } from './server.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/models/sst2-bert-mini-en' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    calls: { type: 'string', default: '400' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
const calls = Number(args.calls);
const sentences = readSentences(args.data);
const settings = [`--model.path=${args.model}`, ...args.set.map((s) => `--${s}`)];
const config = loadConfig({ argv: settings });
const manifest = readManifest(config.model.path, { quantization: config.model.quantization, labels: config.model.labels });
const encoder = new TextEncoder(manifest.tokenizerFile, Math.min(config.model.maxSequenceLength, manifest.maxPositionEmbeddings));
const encodedAll = await encoder.encode(sentences);
// The server's own layout (sessions and intra-op threads from the CPU quota), so the in-process
// stages run sessions like the ones the HTTP stage reaches: onnxruntime's default thread count
// would make them faster than the server on short inputs.
const layout = resolveLayout(config);

type Stage = { name: string; call: (i: number) => Promise<unknown> };

/**
 * Stages take turns call by call, so a burst from other processes on a shared machine lands on
 * all of them alike instead of on whichever stage ran at that moment.
 */
async function timeInterleaved(stages: Stage[]): Promise<{ name: string; p50: number; p90: number }[]> {
  for (let i = 0; i < calls / 10; i++) for (const stage of stages) await stage.call(i);
  const times = stages.map((): number[] => []);
  for (let i = 0; i < calls; i++) {
    for (const [s, stage] of stages.entries()) {
      const t0 = performance.now();
      await stage.call(i);
      times[s]!.push(performance.now() - t0);
    }
  }
  return stages.map((stage, s) => ({ name: stage.name, p50: percentile(times[s]!, 50), p90: percentile(times[s]!, 90) }));
}

function padOne(encoded: EncodedText): Batch {
  const columns = encoded.ids.length;
  return {
    rows: 1,
    columns,
    inputIds: BigInt64Array.from(encoded.ids, BigInt),
    attentionMask: new BigInt64Array(columns).fill(1n),
    tokenTypeIds: BigInt64Array.from(encoded.typeIds, BigInt),
  };
}

const server = await startServer([...BENCH_SERVER_FLAGS, '--logging.level=info', ...settings]);
const session = await ort.InferenceSession.create(manifest.onnxFile, {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: layout.intraOpThreads,
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
});
const feeds = (batch: Batch): Record<string, ort.Tensor> => ({
  input_ids: new ort.Tensor('int64', batch.inputIds, [1, batch.columns]),
  attention_mask: new ort.Tensor('int64', batch.attentionMask, [1, batch.columns]),
  token_type_ids: new ort.Tensor('int64', batch.tokenTypeIds, [1, batch.columns]),
});
const backend = await OnnxBackend.open(manifest, { ...config.session, ...layout }, () => {});
const observer = { queueDepth: () => {}, batch: () => {}, dropped: () => {}, tokenized: () => {}, answered: () => {} };
const batcher = new Batcher(new BatchQueue(config.batching), backend, { ...config.batching, concurrentBatches: config.session.concurrentBatches, padTokenId: manifest.padTokenId }, observer);
const classifier = new Classifier(encoder, batcher, undefined, observer);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const { hostname, port } = new URL(server.url);
const send = (method: string, path: string, body = ''): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
const sentence = (i: number): string => sentences[i % sentences.length]!;
const encodedAt = (i: number): EncodedText => encodedAll[i % encodedAll.length]!;
try {
  const rows = await timeInterleaved([
    { name: 'tokenize (TextEncoder.encode, one text)', call: (i) => encoder.encode([sentence(i)]) },
    { name: 'session.run on this thread (pre-tokenized)', call: (i) => session.run(feeds(padOne(encodedAt(i)))) },
    { name: 'raw: tokenize + session.run on this thread', call: async (i) => session.run(feeds(padOne((await encoder.encode([sentence(i)]))[0]!))) },
    { name: 'OnnxBackend.run: worker hop + session.run (pre-tokenized)', call: (i) => backend.run(padOne(encodedAt(i))) },
    { name: 'Classifier.classify: tokenize + queue + batcher + worker + softmax', call: (i) => classifier.classify([sentence(i)], { deadline: performance.now() + 30_000 }) },
    { name: 'HTTP POST /v1/sentiment (server process, keep-alive client)', call: (i) => send('POST', '/v1/sentiment', JSON.stringify({ text: sentence(i) })) },
    { name: 'HTTP GET /healthz (same server: the HTTP round trip alone)', call: () => send('GET', '/healthz') },
  ]);
  console.log(`settings: ${settings.join(' ')}; ${layout.sessions} session(s) of ${layout.intraOpThreads} intra-op thread(s); ${calls} sequential calls per stage, stages taking turns\n`);
  console.log('| stage | p50 ms | p90 ms |\n|---|---:|---:|');
  for (const row of rows) console.log(`| ${row.name} | ${row.p50.toFixed(3)} | ${row.p90.toFixed(3)} |`);
} finally {
  agent.destroy();
  await session.release();
  await backend.close();
  await server.stop();
}
