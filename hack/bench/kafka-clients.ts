// `npm run bench:kafka-clients`: the evidence behind the runtime's Kafka client (issue 15). Each
// candidate that loads here runs the same three measurements on a throwaway real broker:
//   produce    N keyed SST-2 sentences, batches of 1000 awaited one after another, acks=all
//   consume    the same N from the beginning in a fresh group, first record to last (join excluded)
//   round trip one record produced, then awaited on a consumer already assigned, R times in turn
// after an untimed warm-up pass, in --rounds rounds (every other one in reverse order).
// A client that cannot be loaded is reported with the reason. @confluentinc/kafka-javascript is
// native (librdkafka) and needs a build, so it is not a dependency of this repository. Its install
// fetches a prebuilt binary from GitHub and its default source build downloads zlib, OpenSSL, zstd
// and curl; with only the npm registry reachable it builds against the system's libssl-dev and
// zlib1g-dev, in a scratch directory whose package.json allows its install script:
//   mkdir /tmp/kclients && cd /tmp/kclients && npm init -y
//   npm pkg set 'allowScripts.@confluentinc/kafka-javascript=true' --json   (npm 11 blocks install scripts)
//   CKJS_LINKING=dynamic npm_config_nodedir=$(dirname "$(dirname "$(command -v node)")") npm install @confluentinc/kafka-javascript
// then: npm run bench:kafka-clients -- --modules /tmp/kclients
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type * as Platformatic from '@platformatic/kafka';
import type * as KafkaJs from 'kafkajs';
import { startKafka } from '../../test/support/kafka.js';
import { readSentences } from './sentences.js';
import { percentile } from './stats.js';

const USAGE = 'usage: npm run bench:kafka-clients -- [--records N] [--round-trips R] [--rounds K] [--partitions P] [--modules DIR] [--data TSV]';
const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    'round-trips': { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    partitions: { type: 'string', default: '4' },
    modules: { type: 'string' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
  },
});
const records = Number(args.records);
const roundTrips = Number(args['round-trips']);
const partitions = Number(args.partitions);
const rounds = Number(args.rounds);
if (![records, roundTrips, partitions, rounds].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(USAGE);
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

interface Message { key: Buffer; value: Buffer }
/** What each client has to do, in its own idiomatic batched API. */
interface Client {
  produce(topic: string, messages: Message[]): Promise<void>;
  /** Subscribes a fresh group from the beginning; `onValue` sees every record's key. */
  consume(topic: string, group: string, onKey: (key: string) => void): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}
type Factory = (brokers: string[]) => Promise<Client>;

// Modules resolve from this repository first, then from --modules.
const requirers = [createRequire(import.meta.url), ...(args.modules ? [createRequire(join(resolve(args.modules), 'package.json'))] : [])];
function load<T>(name: string): { module: T; version: string; from: string } {
  let lastError: unknown;
  for (const require of requirers) {
    try {
      const entry = require.resolve(name);
      // The package's own package.json: its exports map may not expose it to require.
      let dir = dirname(entry);
      while (dir !== dirname(dir) && manifest(dir)?.name !== name) dir = dirname(dir);
      return { module: require(name) as T, version: manifest(dir)?.version ?? 'unknown version', from: dir };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const platformatic = (kafka: typeof Platformatic): Factory => async (brokers) => {
  const producer = new kafka.Producer({ clientId: 'clients-bench', bootstrapBrokers: brokers, acks: kafka.ProduceAcks.ALL });
  return {
    produce: async (topic, messages) => void (await producer.send({ messages: messages.map((m) => ({ topic, ...m })) })),
    consume: async (topic, group, onKey) => {
      const consumer = new kafka.Consumer({ clientId: 'clients-bench', groupId: group, bootstrapBrokers: brokers, autocommit: false, maxWaitTime: 100 });
      const stream = await consumer.consume({ topics: [topic], mode: kafka.MessagesStreamModes.EARLIEST });
      stream.on('data', (m: Platformatic.Message<Buffer, Buffer, Buffer, Buffer>) => onKey(m.key.toString()));
      return { stop: async () => { await stream.close(); await consumer.close(true); } };
    },
    close: () => producer.close(),
  };
};

/** kafkajs and the KafkaJS-compatible API of @confluentinc/kafka-javascript, which share a shape. */
interface KafkaJsLike {
  producer(c?: object): { connect(): Promise<void>; send(r: { topic: string; acks?: number; messages: Message[] }): Promise<unknown>; disconnect(): Promise<void> };
  consumer(c: object): {
    connect(): Promise<void>;
    subscribe(s: object): Promise<void>;
    run(r: { eachBatch(p: { batch: { messages: { key: Buffer | null }[] } }): Promise<void> }): Promise<void>;
    disconnect(): Promise<void>;
  };
}
function manifest(dir: string): { name?: string; version?: string } | undefined {
  const file = join(dir, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }) : undefined;
}

interface KafkaJsConfig {
  /** acks=all, where each API takes it. */
  producer?: object;
  acks?: { acks: number };
  consumer(group: string): object;
  subscription(topic: string): object;
}
const kafkaJsShape = (kafka: KafkaJsLike, config: KafkaJsConfig): Client => {
  const producer = kafka.producer(config.producer);
  const connected = producer.connect();
  return {
    produce: async (topic, messages) => void (await connected, await producer.send({ topic, ...config.acks, messages })),
    consume: async (topic, group, onKey) => {
      const consumer = kafka.consumer(config.consumer(group));
      await consumer.connect();
      await consumer.subscribe(config.subscription(topic));
      await consumer.run({ eachBatch: async ({ batch }) => batch.messages.forEach((m) => onKey(m.key?.toString() ?? '')) });
      return { stop: () => consumer.disconnect() };
    },
    close: () => producer.disconnect(),
  };
};

const kafkajs = (kafka: typeof KafkaJs): Factory => async (brokers) =>
  kafkaJsShape(new kafka.Kafka({ clientId: 'clients-bench', brokers, logLevel: kafka.logLevel.NOTHING }) as unknown as KafkaJsLike,
    { acks: { acks: -1 }, consumer: (groupId) => ({ groupId, maxWaitTimeInMs: 100 }), subscription: (topic) => ({ topic, fromBeginning: true }) });

interface Confluent { KafkaJS: { Kafka: new (c: object) => KafkaJsLike; logLevel: { NOTHING: number } } }
const confluent = ({ KafkaJS }: Confluent): Factory => async (brokers) =>
  kafkaJsShape(new KafkaJS.Kafka({ kafkaJS: { clientId: 'clients-bench', brokers, logLevel: KafkaJS.logLevel.NOTHING } }),
    { producer: { kafkaJS: { acks: -1 } }, consumer: (groupId) => ({ kafkaJS: { groupId, fromBeginning: true, autoCommit: false } }), subscription: (topic) => ({ topics: [topic] }) });

const candidates: { name: string; factory: () => Factory; hint?: string }[] = [
  { name: '@platformatic/kafka', factory: () => platformatic(loaded('@platformatic/kafka')) },
  { name: 'kafkajs', factory: () => kafkajs(loaded('kafkajs')) },
  { name: '@confluentinc/kafka-javascript', factory: () => confluent(loaded('@confluentinc/kafka-javascript')), hint: 'a native build: see the header of hack/bench/kafka-clients.ts, then pass --modules DIR' },
];
const versions = new Map<string, string>();
function loaded<T>(name: string): T {
  const { module, version, from } = load<T>(name);
  versions.set(name, `${version} (${from})`);
  return module;
}

const sentences = readSentences(args.data);
const message = (prefix: string, i: number): Message => ({ key: Buffer.from(`${prefix}${i}`), value: Buffer.from(sentences[i % sentences.length]!) });

console.log(['npm run bench:kafka-clients', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '));
console.log(`load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${records} records of SST-2 sentences, ${partitions} partitions, ${roundTrips} round trips`);
const broker = await startKafka();

/** One client's three figures on topics of its own. */
async function measure(factory: Factory, tag: string): Promise<{ produce: number; consume: number; trips: number[] }> {
  const client = await factory([broker.bootstrap]);
  const topic = `throughput-${tag}`;
  const rtTopic = `round-trip-${tag}`;
  await broker.createTopics([{ name: topic, partitions }, { name: rtTopic, partitions: 1 }]);

  let start = performance.now();
  for (let i = 0; i < records; i += 1000) await client.produce(topic, Array.from({ length: Math.min(1000, records - i) }, (_, j) => message('t', i + j)));
  const produce = records / ((performance.now() - start) / 1000);

  let seen = 0;
  let first = 0;
  let allSeen!: () => void;
  const consumed = new Promise<void>((resolve) => (allSeen = resolve));
  const reader = await client.consume(topic, `throughput-${tag}`, () => {
    if (seen++ === 0) first = performance.now();
    if (seen === records) allSeen();
  });
  await consumed;
  const consume = (records - 1) / ((performance.now() - first) / 1000);
  await reader.stop();

  // A warm-up record proves the round-trip consumer is assigned before the clock runs.
  const waiting = new Map<string, () => void>();
  const arrived = (key: string) => new Promise<void>((resolve) => waiting.set(key, resolve));
  const rtReader = await client.consume(rtTopic, `round-trip-${tag}`, (key) => waiting.get(key)?.());
  const warm = arrived('w0');
  await client.produce(rtTopic, [message('w', 0)]);
  await warm;
  const trips: number[] = [];
  for (let i = 0; i < roundTrips; i++) {
    const back = arrived(`r${i}`);
    start = performance.now();
    await client.produce(rtTopic, [message('r', i)]);
    await back;
    trips.push(performance.now() - start);
  }
  await rtReader.stop();
  await client.close();
  return { produce, consume, trips };
}

const factories = new Map<string, Factory>();
const rows = new Map<string, string[]>();
for (const candidate of candidates) {
  try {
    factories.set(candidate.name, candidate.factory());
    rows.set(candidate.name, []);
    console.log(`${candidate.name} ${versions.get(candidate.name)}`);
  } catch (error) {
    rows.set(candidate.name, [`not measured: ${(error as Error).message.split('\n')[0]}${candidate.hint ? ` (${candidate.hint})` : ''}`]);
  }
}
try {
  // An untimed pass first: the broker's JIT and its first topics would otherwise bill whoever goes first.
  const [warmUp] = factories.values();
  if (warmUp) await measure(warmUp, 'warm-up');
  // Every other round in reverse order, so no client is always first or last.
  for (let round = 1; round <= rounds; round++) {
    const order = [...factories];
    if (round % 2 === 0) order.reverse();
    for (const [name, factory] of order) {
      const { produce, consume, trips } = await measure(factory, `${round}-${[...factories.keys()].indexOf(name)}`);
      const cell = `${produce.toFixed(0)} / ${consume.toFixed(0)} / ${percentile(trips, 50).toFixed(1)} / ${percentile(trips, 99).toFixed(1)}`;
      console.log(`round ${round} ${name}: produce/s / consume/s / round trip p50 ms / p99 ms = ${cell}`);
      rows.get(name)!.push(cell);
    }
  }
  console.log(`\nproduce records/s / consume records/s / round trip p50 ms / p99 ms, per round (${records} records, ${roundTrips} round trips)\n`);
  console.log(`| client | ${Array.from({ length: rounds }, (_, i) => `round ${i + 1}`).join(' | ')} |\n|---|${'---|'.repeat(rounds)}`);
  for (const [name, cells] of rows) console.log(`| ${name} ${versions.get(name)?.split(' ')[0] ?? ''} | ${cells.join(' | ')} |`);
} finally {
  await broker.stop();
}
process.exit(0);
