// Dev-set accuracy of a model through the real server, on whatever execution provider it is
// given: how a GPU (or fp16) variant is checked against its model card. Prints one JSON line.
import { parseArgs } from 'node:util';
import { accuracyThroughApi, readLabelled } from './labelled.js';
import { BENCH_SERVER_FLAGS, startServer } from './server.js';

const USAGE = 'usage: npm run bench:accuracy -- --model DIR --data TSV [--quantization none|int8|fp16] [--set section.key=value ...]';
const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    quantization: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
if (!args.model || !args.data) {
  console.error(USAGE);
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const rows = readLabelled(args.data);
const server = await startServer([
  ...BENCH_SERVER_FLAGS,
  `--model.path=${args.model}`,
  ...(args.quantization ? [`--model.quantization=${args.quantization}`] : []),
  ...args.set.map((setting) => `--${setting}`),
]);
try {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const modelInfo = metrics.split('\n').find((line) => line.startsWith('sentiment_runtime_model_info{')) ?? 'sentiment_runtime_model_info missing';
  const accuracy = await accuracyThroughApi(server.url, rows);
  console.log(JSON.stringify({ model: args.model, quantization: args.quantization ?? 'default', data: args.data, sentences: rows.length, accuracy: Number(accuracy.toFixed(4)), modelInfo }));
} finally {
  await server.stop();
}
