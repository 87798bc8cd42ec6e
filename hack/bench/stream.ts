// `npm run bench:stream`: stream mode measured the way issue 15 asks, on a throwaway real broker,
// all in one run with one model and one batch size (result cache off, so every text is inferred);
// the capacity rows share one server process, so they share its batcher's measured batch size:
//   capacity   records/s through Kafka (the in-process consumer draining a backlog) against the
//              same model's HTTP throughput with enough clients to fill batches (target >= 0.9x),
//              and a per-message bridge (one POST per record, KubeAI messenger's shape) beside them
//   latency    end-to-end p50/p99 at 50% of the measured Kafka capacity, open-loop producer: from
//              the input record's timestamp to the result's produce and to its consumption
//   drain      time to drain the backlog with 1 and with 2 serving processes (server.processes=2:
//              one runtime, each serving process its own consumer in the same group)
// Not a test: it prints numbers. Read the ratios, not the absolutes, on a shared machine.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { startKafka } from '../../test/support/kafka.js';
import { OutputWatch, perMessageBridge, produceAtRate, produceBacklog } from './kafka-io.js';
import { readSentences } from './sentences.js';
import { BENCH_SERVER_FLAGS, loadTest, startServer, type ServerChild } from './server.js';
import { cpuSample, cpuShare, percentile, serverSample } from './stats.js';

const USAGE = `usage: npm run bench:stream -- [--quick] [--records N] [--batch-size B] [--connections C] [--partitions P]
    [--http-seconds S] [--latency-seconds S] [--bridge-records N] [--handlers H] [--model DIR] [--data TSV] [--set section.key=value ...]
  --records N          backlog drained by 1 and by 2 serving processes (default 100000; --quick 10000)
  --batch-size B       batching.maxBatchSize of every server (default 32)
  --connections C      HTTP clients (default 4 x B: batches stay full while answers travel)
  --partitions P       input partitions (default 4: splits evenly over 1 and 2 consumers)
  --http-seconds S     measured HTTP seconds, after a 3 s warm-up (default 20; --quick 8)
  --latency-seconds S  open-loop producer at 50% of capacity (default 30; --quick 10)
  --bridge-records N   results the per-message bridge delivers (default 5000; --quick 1000; 0 skips it)
  --handlers H         per-message bridge records in flight (default 32)`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    records: { type: 'string' },
    'batch-size': { type: 'string', default: '32' },
    connections: { type: 'string' },
    partitions: { type: 'string', default: '4' },
    'http-seconds': { type: 'string' },
    'latency-seconds': { type: 'string' },
    'bridge-records': { type: 'string' },
    handlers: { type: 'string', default: '32' },
    model: { type: 'string', default: 'models/sst2-bert-mini-en' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    set: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});
const pick = (value: string | undefined, full: number, quick: number): number => (value === undefined ? (args.quick ? quick : full) : Number(value));
const records = pick(args.records, 100_000, 10_000);
const batchSize = Number(args['batch-size']);
const connections = pick(args.connections, 4 * batchSize, 4 * batchSize);
const partitions = Number(args.partitions);
const httpSeconds = pick(args['http-seconds'], 20, 8);
const latencySeconds = pick(args['latency-seconds'], 30, 10);
const bridgeRecords = pick(args['bridge-records'], 5_000, 1_000);
const handlers = Number(args.handlers);
if (args.help) exit(USAGE, 0);
if (![records, batchSize, connections, partitions, httpSeconds, latencySeconds, handlers].every((n) => Number.isInteger(n) && n > 0) || !(Number.isInteger(bridgeRecords) && bridgeRecords >= 0)) {
  exit(`every option is a whole number > 0 (--bridge-records may be 0)\n${USAGE}`);
}
if (bridgeRecords > records) exit(`--bridge-records (${bridgeRecords}) cannot exceed --records (${records}): the bridge reads the same backlog`);
// Exit through process.exit so server children and the broker are killed on the way out.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const sentences = readSentences(args.data);
const serverFlags = [...BENCH_SERVER_FLAGS, `--model.path=${args.model}`, `--batching.maxBatchSize=${batchSize}`, ...args.set.map((s) => `--${s}`)];
const command = ['npm run bench:stream', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
/** A result for every record within this long, or the run fails with what did arrive. */
const drainTimeoutMs = (count: number) => 120_000 + count * 20;

console.log(`${command}\nload average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}; model ${args.model}, batching.maxBatchSize=${batchSize}, ${partitions} partitions, cache off`);
const broker = await startKafka();
const bootstrapBrokers = [broker.bootstrap];
const producer = new Producer({ clientId: 'bench', bootstrapBrokers, acks: ProduceAcks.ALL, idempotent: true });
const streamFlags = (output: string, group: string) => [`--stream.bootstrapServers=${broker.bootstrap}`, '--stream.inputTopic=backlog', `--stream.outputTopic=${output}`, `--stream.groupId=${group}`];

interface Row { name: string; count: number; seconds: number; perSecond: number; meanBatch: number; preferredBatch: number; serverCores: number; otherCores: number }
const rows: Row[] = [];
function row(name: string, count: number, seconds: number, inside: { meanBatch: number; preferredBatch: number }, cpu: { server: number; other: number }, perSecond = count / seconds): Row {
  const r = { name, count, seconds, perSecond, ...inside, serverCores: cpu.server, otherCores: cpu.other };
  rows.push(r);
  console.log(`  ${name}: ${count} in ${seconds.toFixed(1)} s, ${perSecond.toFixed(0)}/s, mean batch ${r.meanBatch.toFixed(1)}`);
  return r;
}

/** The batch size the server's batcher cuts at, by its own measurement (batching.maxBatchSize bounds it). */
async function preferredBatch(server: ServerChild): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^sentiment_runtime_preferred_batch_size (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN);
}

/** A server draining the backlog into `output`: seconds from spawn to the last result, and the steady rate. */
async function drain(name: string, output: string, group: string, extra: string[]): Promise<{ server: ServerChild; watch: OutputWatch; total: number; row: Row }> {
  await broker.createTopics([{ name: output, partitions }]);
  const watch = await new OutputWatch('b').start(bootstrapBrokers, output);
  const spawned = performance.now();
  const server = await startServer([...serverFlags, ...streamFlags(output, group), ...extra]);
  const [before, metricsBefore] = [cpuSample(server.pid), await serverSample(server.url)];
  await watch.until(records, drainTimeoutMs(records));
  const [after, metricsAfter] = [cpuSample(server.pid), await serverSample(server.url)];
  const total = (watch.lastAt - spawned) / 1000;
  const batches = metricsAfter.batches - metricsBefore.batches;
  const inside = { meanBatch: (metricsAfter.batchedTexts - metricsBefore.batchedTexts) / batches, preferredBatch: await preferredBatch(server) };
  const r = row(name, records, (watch.lastAt - watch.firstAt) / 1000, inside, cpuShare(before, after), watch.steadyRate);
  return { server, watch, total, row: r };
}

try {
  await broker.createTopics([{ name: 'backlog', partitions }]);
  const produceStart = performance.now();
  await produceBacklog(producer, 'backlog', 'b', records, sentences);
  console.log(`backlog of ${records} records produced in ${((performance.now() - produceStart) / 1000).toFixed(1)} s`);

  console.log('drain, 2 serving processes (server.processes=2)');
  const two = await drain('Kafka in-process, server.processes=2', 'out-2', 'bench-two', ['--server.processes=2']);
  await two.server.stop();
  await two.watch.stop();

  console.log('drain, 1 serving process');
  const one = await drain('Kafka in-process, 1 serving process', 'out-1', 'bench-one', []);

  const rate = one.row.perSecond / 2;
  console.log(`latency: open loop at ${rate.toFixed(0)} records/s for ${latencySeconds} s into the same server`);
  const toProduce: number[] = [];
  const toConsume: number[] = [];
  const pendingArrivals: { key: string; receivedAt: number; producedAt: number }[] = [];
  const latencyWatch = await new OutputWatch('l', (arrival) => pendingArrivals.push(arrival)).start(bootstrapBrokers, 'out-1');
  const sent = await produceAtRate(producer, 'backlog', 'l', rate, latencySeconds, sentences);
  const { sentAt } = sent;
  await latencyWatch.until(sentAt.size - sent.failed, drainTimeoutMs(sentAt.size));
  for (const { key, receivedAt, producedAt } of pendingArrivals) {
    toProduce.push(producedAt - sentAt.get(key)!);
    toConsume.push(receivedAt - sentAt.get(key)!);
  }
  await latencyWatch.stop();
  await one.watch.stop();

  // HTTP and the bridge go to the same server, its consumer idle now: one process, one batcher
  // and one measured batch size for every capacity row.
  const server = one.server;
  console.log(`HTTP, ${connections} clients (3 s warm-up, ${httpSeconds} s measured), same server`);
  await loadTest(server, sentences, connections, 3);
  const load = await loadTest(server, sentences, connections, httpSeconds);
  const httpInside = { meanBatch: load.inside.meanBatch, preferredBatch: await preferredBatch(server) };
  const http = row(`HTTP POST /v1/sentiment, ${connections} clients (p50 ${load.p50Ms.toFixed(1)} ms)`, load.ok, httpSeconds, httpInside, load.cpu);

  let bridge: Row | undefined;
  if (bridgeRecords > 0) {
    console.log(`per-message bridge, ${handlers} in flight, first ${bridgeRecords} records of the backlog, same server`);
    await broker.createTopics([{ name: 'out-bridge', partitions }]);
    const watch = await new OutputWatch('b').start(bootstrapBrokers, 'out-bridge');
    const [before, metricsBefore] = [cpuSample(server.pid), await serverSample(server.url)];
    const running = await perMessageBridge(bootstrapBrokers, server.url, { input: 'backlog', output: 'out-bridge' }, handlers);
    await watch.until(bridgeRecords, drainTimeoutMs(bridgeRecords));
    const [after, metricsAfter] = [cpuSample(server.pid), await serverSample(server.url)];
    const preferred = await preferredBatch(server);
    await running.stop();
    await watch.stop();
    const meanBatch = (metricsAfter.batchedTexts - metricsBefore.batchedTexts) / (metricsAfter.batches - metricsBefore.batches);
    bridge = row(`per-message bridge, ${handlers} in flight`, bridgeRecords, (watch.lastAt - watch.firstAt) / 1000, { meanBatch, preferredBatch: preferred }, cpuShare(before, after), watch.steadyRate);
  }
  await server.stop();

  const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
  console.log(`\n${command}\n`);
  console.log('| row | results | seconds | per second | per server core | mean batch | preferred batch | server cores | other cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.count} | ${fmt(r.seconds, 1)} | ${fmt(r.perSecond)} | ${fmt(r.perSecond / r.serverCores)} | ${fmt(r.meanBatch, 1)} | ${fmt(r.preferredBatch)} | ${fmt(r.serverCores, 2)} | ${fmt(r.otherCores, 2)} |`);
  console.log('\nKafka rows: seconds and rate from the first result to the last (start-up excluded). Server cores: CPU the server used (1.0 = one core);');
  console.log('other cores: everything else on the machine, the broker and this process included. Per server core reads through CPU taken by other work.');
  const perCore = (r: Row) => r.perSecond / r.serverCores;
  console.log(`Kafka (1 process) / HTTP: ${(one.row.perSecond / http.perSecond).toFixed(2)}x, per server core ${(perCore(one.row) / perCore(http)).toFixed(2)}x (target >= 0.9)`);
  if (bridge) console.log(`Kafka (1 process) / per-message bridge: ${(one.row.perSecond / bridge.perSecond).toFixed(2)}x, per server core ${(perCore(one.row) / perCore(bridge)).toFixed(2)}x`);
  console.log(`latency at 50% of capacity (${fmt(rate)} records/s open loop, ${latencySeconds} s, ${sentAt.size} records, ${sent.failed} failed sends): ` +
    `record timestamp to result produced p50 ${fmt(percentile(toProduce, 50))} ms p99 ${fmt(percentile(toProduce, 99))} ms; to result consumed p50 ${fmt(percentile(toConsume, 50))} ms p99 ${fmt(percentile(toConsume, 99))} ms`);
  console.log(`drain of ${records} records, spawn to last result (model load and group join included): 1 process ${fmt(one.total, 1)} s, ` +
    `server.processes=2 ${fmt(two.total, 1)} s (${(one.total / two.total).toFixed(2)}x); steady rate ${(two.row.perSecond / one.row.perSecond).toFixed(2)}x; ` +
    `duplicates ${one.watch.duplicates} / ${two.watch.duplicates}`);
} finally {
  await producer.close();
  await broker.stop();
}
process.exit(0);

function exit(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}
