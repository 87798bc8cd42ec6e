// `npm run bench:stream`: stream mode against the way others bridge a queue to a model server
// (issue 15). A throwaway Kafka broker holds a backlog of N keyed SST-2 sentences; each row drains
// it into an output topic and reports records/s:
//   in-process   the runtime's own consumer (spec.stream.kafka): fetched chunks go straight into its batcher
//   per-message  a bridge that POSTs one text per record to the same runtime over HTTP and produces
//                the answer (the KubeAI messenger's shape), with --handlers records in flight
// Not a test: it prints numbers. The result cache is off, so every text runs through the model.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Consumer, MessagesStreamModes, ProduceAcks, Producer, type Message } from '@platformatic/kafka';
import { startKafka } from '../../test/support/kafka.js';
import { BENCH_SERVER_FLAGS, startServer } from './server.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '3' },
    handlers: { type: 'string', default: '32' },
    model: { type: 'string', default: 'models/sst2-bert-mini-en' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
const total = Number(args.records);
const partitions = Number(args.partitions);
const handlers = Number(args.handlers);
if (![total, partitions, handlers].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: npm run bench:stream -- [--records N] [--partitions P] [--handlers H] [--model DIR] [--data TSV] [--set section.key=value ...]');
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const [header, ...lines] = readFileSync(args.data, 'utf8').split('\n');
const column = header!.split('\t').indexOf('sentence');
const sentences = lines.map((line) => line.split('\t')[column]?.trim() ?? '').filter(Boolean);
const serverFlags = [...BENCH_SERVER_FLAGS, `--model.path=${args.model}`, ...args.set.map((s) => `--${s}`)];

const broker = await startKafka();
const bootstrapBrokers = [broker.bootstrap];
const producer = new Producer({ clientId: 'bench', bootstrapBrokers, acks: ProduceAcks.ALL, idempotent: true });

/** A fresh input topic holding the backlog, and an empty output topic. */
async function backlog(name: string): Promise<{ input: string; output: string }> {
  const topics = { input: `${name}-in`, output: `${name}-out` };
  await broker.createTopics([{ name: topics.input, partitions }, { name: topics.output, partitions }]);
  for (let i = 0; i < total; i += 1000) {
    await producer.send({
      messages: Array.from({ length: Math.min(1000, total - i) }, (_, j) => ({
        topic: topics.input, key: Buffer.from(`k${(i + j) % 64}`), value: Buffer.from(sentences[(i + j) % sentences.length]!),
      })),
    });
  }
  return topics;
}

/** Counts what reaches `topic`; resolves with the seconds from `start` until `total` records have. */
async function drained(topic: string, start: () => number): Promise<number> {
  const consumer = new Consumer({ clientId: 'bench-counter', groupId: `count-${topic}`, bootstrapBrokers, autocommit: false });
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 100 });
  let seen = 0;
  const seconds = await new Promise<number>((resolve) => stream.on('data', () => { if (++seen === total) resolve((performance.now() - start()) / 1000); }));
  await stream.close();
  await consumer.close(true);
  return seconds;
}

const rows: { row: string; seconds: number; perSecond: number }[] = [];
const report = (row: string, seconds: number) => {
  rows.push({ row, seconds, perSecond: total / seconds });
  console.log(`${row.padEnd(12)} ${total} records in ${seconds.toFixed(1)} s: ${(total / seconds).toFixed(0)} records/s`);
};

try {
  {
    const topics = await backlog('inproc');
    let started = 0;
    const done = drained(topics.output, () => started);
    started = performance.now();
    const server = await startServer([...serverFlags, `--stream.bootstrapServers=${broker.bootstrap}`, `--stream.inputTopic=${topics.input}`, `--stream.outputTopic=${topics.output}`, '--stream.groupId=bench-inproc']);
    report('in-process', await done);
    await server.stop();
  }
  {
    const topics = await backlog('permsg');
    let started = 0;
    const done = drained(topics.output, () => started);
    // Both rows count from the server's start (model load and warm-up included), the same for each.
    started = performance.now();
    const server = await startServer(serverFlags);
    const bridge = new Consumer({ clientId: 'bench-bridge', groupId: 'bench-permsg', bootstrapBrokers, autocommit: true, highWaterMark: handlers });
    const out = new Producer({ clientId: 'bench-bridge-out', bootstrapBrokers, acks: ProduceAcks.ALL, idempotent: true });
    const stream = await bridge.consume({ topics: [topics.input], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 100 });
    let inFlight = 0;
    stream.on('data', (record: Message<Buffer, Buffer, Buffer, Buffer>) => {
      if (++inFlight >= handlers) stream.pause();
      void (async () => {
        const response = await fetch(`${server.url}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: record.value.toString() }) });
        const body = (await response.json()) as { results: unknown[] };
        await out.send({ messages: [{ topic: topics.output, key: record.key, value: Buffer.from(JSON.stringify(body.results[0])) }] });
        if (--inFlight < handlers) stream.resume();
      })();
    });
    report('per-message', await done);
    await stream.close();
    await bridge.close(true);
    await out.close();
    await server.stop();
  }
  const [inproc, permsg] = rows;
  console.log(`in-process / per-message: ${(inproc!.perSecond / permsg!.perSecond).toFixed(2)}x (${partitions} partitions, ${handlers} per-message handlers)`);
} finally {
  await producer.close();
  await broker.stop();
}
process.exit(0);
