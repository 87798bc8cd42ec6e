// Benchmark of the inference runtime against its own ceiling (issue 2, "Benchmark"):
// raw onnxruntime + tokenizer throughput in this process, then the real server in a child
// process under autocannon with batching on and off. Not a test: it prints numbers.
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../runtime/src/config/load.js';
import type { Quantization } from '#contract/runtime-config.js';
import { readManifest } from '../../runtime/src/model/manifest.js';
import { rawCeiling, type RawRow } from './raw.js';
import { readSentences } from './sentences.js';
import { BENCH_SERVER_FLAGS, loadTest, startServer, type LoadRow } from './server.js';
import { measureQuietly, type Patience } from './stats.js';

const USAGE = `usage: npm run bench:runtime -- [--duration S] [--warmup S] [--tries N] [--quiet-wait S] [--model DIR] [--quantization none|int8|fp16] [--data TSV] [--out FILE.json]
  --tries N: on a shared machine, measure a row up to N times until other processes leave one try undisturbed (default 3)
  --quiet-wait S: before each try, wait up to S seconds for the machine to go idle (default 10)
  [--raw-batches 1,8,32] [--connections 1,8,32,64]  batch sizes of the raw session, client counts of the server
  [--server-ratio-target 0.9] [--batching-gain-target 1]  server / raw share, batching on / off at the most clients
  [--set section.key=value ...]  runtime setting for both the raw session and the server, e.g. --set session.intraOpThreads=1
                                 or, on a GPU: --set session.executionProvider=cuda --set batching.maxBatchSize=128`;
const P50_OVERHEAD_TARGET_MS = 1;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    tries: { type: 'string', default: '3' },
    'quiet-wait': { type: 'string', default: '10' },
    model: { type: 'string', default: 'models/sst2-bert-mini-en' },
    quantization: { type: 'string' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    out: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    'raw-batches': { type: 'string', default: '1,8,32' },
    connections: { type: 'string', default: '1,8,32,64' },
    'server-ratio-target': { type: 'string', default: '0.9' },
    'batching-gain-target': { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) exit(USAGE, 0);
// Exit through process.exit so the server child is killed on the way out (see server.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const patience: Patience = { tries: Number(args.tries), quietWait: Number(args['quiet-wait']) };
if (!(duration > 0) || !(warmup >= 0) || !(patience.quietWait >= 0) || !Number.isInteger(patience.tries) || patience.tries < 1) {
  exit(`--duration must be > 0, --warmup and --quiet-wait >= 0 (seconds), --tries a whole number >= 1\n${USAGE}`);
}
const RAW_BATCHES = positiveIntegers(args['raw-batches'], '--raw-batches');
const CONNECTIONS = positiveIntegers(args.connections, '--connections');
const RATIO_TARGET = Number(args['server-ratio-target']);
const BATCHING_GAIN_TARGET = Number(args['batching-gain-target']);
if (!(RATIO_TARGET > 0) || !(BATCHING_GAIN_TARGET > 0)) exit(`--server-ratio-target and --batching-gain-target must be > 0\n${USAGE}`);
if (!RAW_BATCHES.includes(1) || !CONNECTIONS.includes(1)) exit(`--raw-batches and --connections must include 1: the latency overhead compares single requests\n${USAGE}`);
if (args.quantization !== undefined && !['none', 'int8', 'fp16'].includes(args.quantization)) exit(`--quantization must be none, int8 or fp16\n${USAGE}`);
if (!existsSync(args.data)) exit(`sentences file ${args.data} not found: the benchmark reads SST-2 dev sentences (../shared/data/sst2/dev.tsv); pass --data FILE`);

const sentences = (() => {
  try {
    return readSentences(args.data);
  } catch (error) {
    exit((error as Error).message);
  }
})();
const quantization = args.quantization as Quantization | undefined;
// Settings go through the runtime's own flag parser so the raw session and the server read identical values.
const settings = [`--model.path=${args.model}`, ...(quantization ? [`--model.quantization=${quantization}`] : []), ...args.set.map((s) => `--${s}`)];
const config = (() => {
  try {
    return loadConfig({ argv: settings });
  } catch (error) {
    exit(`${(error as Error).message}\n${USAGE}`);
  }
})();
const manifest = (() => {
  try {
    return readManifest(config.model.path, { quantization: config.model.quantization, labels: config.model.labels });
  } catch (error) {
    exit(`cannot use model: ${(error as Error).message}`);
  }
})();

const command = ['node', relative(process.cwd(), process.argv[1]!), ...process.argv.slice(2)].join(' ');
const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg1m: loadavg()[0]! };
console.log(`command: ${command}`);
console.log(`machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}, load average ${machine.loadavg1m.toFixed(2)} at start`);
if (args.set.length > 0) console.log(`settings: ${args.set.join(' ')}`);
console.log(`model: ${manifest.onnxFile} (${manifest.quantization}); ${sentences.length} sentences from ${args.data}; ${duration} s per row after ${warmup} s warm-up; up to ${patience.tries} tries per row until one is undisturbed, each after waiting up to ${patience.quietWait} s for an idle machine\n`);

console.log('raw onnxruntime + tokenizers, in process ...');
const raw = await rawCeiling(manifest, config, sentences, RAW_BATCHES, duration, warmup, patience);

const baseFlags = [
  ...BENCH_SERVER_FLAGS,
  '--logging.level=info',
  ...settings,
  `--model.quantization=${manifest.quantization}`,
];
const modes = [
  { batching: 'on', maxBatchSize: config.batching.maxBatchSize },
  { batching: 'off', maxBatchSize: 1 },
] as const;
const server: { batching: 'on' | 'off'; maxBatchSize: number; rows: LoadRow[] }[] = [];
const failures: string[] = [];
for (const mode of modes) {
  console.log(`server, batching ${mode.batching} (maxBatchSize ${mode.maxBatchSize}) ...`);
  const child = await startServer([...baseFlags, `--batching.maxBatchSize=${mode.maxBatchSize}`]);
  const rows: LoadRow[] = [];
  try {
    for (const connections of CONNECTIONS) {
      // Warm-ups and discarded tries are checked too: every response must be a 200.
      const load = async (seconds: number, phase: string): Promise<LoadRow> => {
        const r = await loadTest(child, sentences, connections, seconds);
        if (r.non200 + r.errors + r.timeouts > 0) failures.push(`batching ${mode.batching}, ${connections} clients, ${phase}: ${r.non200} non-200, ${r.errors} errors, ${r.timeouts} timeouts`);
        return r;
      };
      if (warmup > 0) await load(warmup, 'warm-up');
      let attempt = 0;
      rows.push(await measureQuietly(patience, () => load(duration, `try ${++attempt}`)));
    }
  } finally {
    await child.stop();
  }
  server.push({ ...mode, rows });
}

const ratios = computeRatios(raw, server);
console.log(`\n${table(raw, server)}\n\n${ratioTable(ratios)}`);
// Other processes on a small shared machine take cores from both sides unevenly; say so rather than report their effect as ours.
const busiest = Math.max(...raw.map((r) => r.cpu.other), ...server.flatMap((m) => m.rows.map((r) => r.cpu.other)));
if (busiest > 0.2) console.log(`\nwarning: other processes used up to ${busiest.toFixed(2)} cores during a row ("other" column); rerun on a quiet machine before trusting the ratios`);
if (failures.length > 0) {
  console.log(`\nFAILED: not every response was 200 (${failures.join('; ')})`);
  process.exitCode = 1;
}
if (args.out) {
  writeFileSync(args.out, `${JSON.stringify({ command, machine, model: { dir: args.model, onnxFile: manifest.onnxFile, quantization: manifest.quantization }, sentences: sentences.length, duration, warmup, ...patience, raw, server, ratios, failures }, null, 2)}\n`);
  console.log(`\nwrote ${args.out}`);
}

interface Ratio {
  name: string;
  value: number;
  target: string;
  verdict: 'pass' | 'noise' | 'fail';
}

function computeRatios(rawRows: RawRow[], serverModes: typeof server): Ratio[] {
  const rawAt = (batch: number): RawRow => rawRows.find((row) => row.batchSize === batch)!;
  const at = (batching: 'on' | 'off', connections: number): LoadRow => serverModes.find((m) => m.batching === batching)!.rows.find((row) => row.connections === connections)!;
  const saturated = Math.max(...CONNECTIONS);
  const share = (name: string, value: number): Ratio => ({ name, value, target: `>= ${RATIO_TARGET.toFixed(2)}`, verdict: value >= RATIO_TARGET ? 'pass' : 'fail' });
  // "The same batch": the raw batch size nearest to the batches the server really formed.
  const busiest = at('on', saturated);
  const sameBatch = RAW_BATCHES.reduce((best, size) => (Math.abs(size - busiest.inside.meanBatch) < Math.abs(best - busiest.inside.meanBatch) ? size : best));
  // Two runs of the same thing differ by a few percent on a shared machine; call that noise, not a loss.
  const onOff = CONNECTIONS.map((c): Ratio => {
    const value = at('on', c).requestsPerSec / at('off', c).requestsPerSec;
    const target = c === saturated ? BATCHING_GAIN_TARGET : 1;
    return { name: `batching on / off, ${c} client${c > 1 ? 's' : ''}`, value, target: `>= ${target.toFixed(2)}`, verdict: value >= target ? 'pass' : value >= target * 0.97 ? 'noise' : 'fail' };
  });
  const overhead = (batching: 'on' | 'off'): Ratio => {
    const value = at(batching, 1).p50Ms - rawAt(1).p50Ms;
    return { name: `p50 at 1 client - raw single inference (batching ${batching}), ms`, value, target: `<= ${P50_OVERHEAD_TARGET_MS}`, verdict: value <= P50_OVERHEAD_TARGET_MS ? 'pass' : 'fail' };
  };
  return [
    share(`server / raw: batching on, ${saturated} clients (mean batch ${busiest.inside.meanBatch.toFixed(1)}) vs raw batch ${sameBatch}`, busiest.requestsPerSec / rawAt(sameBatch).sentencesPerSec),
    share(`server / raw: batching on, ${saturated} clients vs raw batch ${Math.max(...RAW_BATCHES)}`, busiest.requestsPerSec / rawAt(Math.max(...RAW_BATCHES)).sentencesPerSec),
    share(`server / raw: batching off, ${saturated} clients vs raw batch 1`, at('off', saturated).requestsPerSec / rawAt(1).sentencesPerSec),
    ...onOff,
    overhead('on'),
    overhead('off'),
  ];
}

function table(rawRows: RawRow[], serverModes: typeof server): string {
  const lines = [
    '| run | batch / clients | sentences/s | p50 ms | p99 ms | non-200 | errors | CPU cores: client / server / other | CPU ms/sentence | mean batch | worker busy | worker sent./s busy | tokenize ms/text |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
    ...rawRows.map((r) => `| raw ORT (no HTTP) | batch ${r.batchSize} | ${r.sentencesPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | - | - | - / ${fmt(r.cpu.self)} / ${fmt(r.cpu.other)} | ${fmt((r.cpu.self / r.sentencesPerSec) * 1000)} | ${r.batchSize} | - | - | - |`),
  ];
  for (const mode of serverModes) {
    for (const r of mode.rows) {
      const cpu = [r.cpu.client, r.cpu.server, r.cpu.other].map(fmt).join(' / ');
      const i = r.inside;
      lines.push(
        `| server, batching ${mode.batching} (max ${mode.maxBatchSize}) | ${r.connections} client${r.connections > 1 ? 's' : ''} | ${r.requestsPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.non200} | ${r.errors + r.timeouts} | ${cpu} | ${fmt(((r.cpu.client + r.cpu.server) / r.requestsPerSec) * 1000)} | ` +
          `${i.meanBatch.toFixed(1)} | ${(i.inferenceBusy * 100).toFixed(0)}% | ${i.inferenceTextsPerSec.toFixed(0)} | ${i.tokenizeMsPerText.toFixed(2)} |`,
      );
    }
  }
  lines.push(
    '',
    'CPU cores: averages over the row (1.00 = one core busy); "other" is every other process on the machine. CPU ms/sentence: client + server (raw: its process) per answered sentence.',
    'worker busy: share of the row a batch was out at the inference worker, from the server\'s inference_duration_seconds; worker sent./s busy: sentences per second of that time, to set against raw.',
  );
  return lines.join('\n');
}

function fmt(cores: number): string {
  return Number.isNaN(cores) ? '?' : cores.toFixed(2);
}

function ratioTable(list: Ratio[]): string {
  const mark = { pass: 'yes', noise: 'within noise (3%)', fail: 'NO' };
  return ['| ratio | value | target | met |', '|---|---:|---|---|', ...list.map((r) => `| ${r.name} | ${r.value.toFixed(2)} | ${r.target} | ${mark[r.verdict]} |`)].join('\n');
}

function positiveIntegers(list: string, flag: string): number[] {
  const values = list.split(',').map(Number);
  if (values.some((value) => !Number.isInteger(value) || value < 1)) exit(`${flag} takes comma-separated whole numbers >= 1, got "${list}"\n${USAGE}`);
  return [...new Set(values)].sort((a, b) => a - b);
}

function exit(message: string, code = 2): never {
  (code === 0 ? console.log : console.error)(message);
  process.exit(code);
}
