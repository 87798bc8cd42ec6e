// Stream mode for real: the built runtime as its own process, consuming from and producing to the
// harness's Kafka broker (KRaft, one node). Asserts on what lands on the output and dead-letter
// topics and on the group's committed offsets: order per key, headers, poison handling, at-least-once
// across a SIGKILL and a broker outage, a SIGTERM drain that commits everything it produced, and HTTP
// requests answered ahead of a backlog.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, MessagesStreamModes, ProduceAcks, Producer, stringDeserializers, type Message } from '@platformatic/kafka';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { waitFor } from '../support/kube.js';
import { models, post, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const RESILIENT = { retries: 240, retryDelay: 250, timeout: 5_000 } as const;
const SENTENCES = [
  ['A gorgeous, witty, seductive movie.', 'positive'],
  ['The plot is tedious and the acting is wooden.', 'negative'],
  ['I loved every minute of it.', 'positive'],
  ['What a waste of time.', 'negative'],
] as const;

let broker: KafkaBroker;
let admin: Admin;
let producer: Producer;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = await startKafka();
  admin = new Admin({ clientId: 'stream-test-admin', bootstrapBrokers: [broker.bootstrap], ...RESILIENT });
  producer = new Producer({ clientId: 'stream-test-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, idempotent: true, ...RESILIENT });
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await producer?.close().catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await broker?.stop();
});

type Output = Message<string, string, string, string>;

/** Topics of their own per test, so one test's leftovers never count in another's. */
async function topics(name: string, partitions = 3) {
  const t = { input: `${name}-in`, output: `${name}-out`, dlq: `${name}-dlq`, group: `${name}-group` };
  await broker.createTopics([{ name: t.input, partitions }, { name: t.output, partitions }, { name: t.dlq, partitions: 1 }]);
  return t;
}

/** `count` keyed texts from `from` on: key k<n % keys>, one of SENTENCES numbered n, so none is answered from the cache. */
function texts(topic: string, from: number, count: number, keys = 12) {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return { topic, key: Buffer.from(`k${n % keys}`), value: Buffer.from(`${SENTENCES[n % SENTENCES.length]![0]} (#${n})`) };
  });
}

async function send(messages: { topic: string; key?: Buffer; value?: Buffer }[]) {
  for (let i = 0; i < messages.length; i += 500) await producer.send({ messages: messages.slice(i, i + 500) });
}

/** Everything on `topic` from the start, as it arrives. */
async function collect(topic: string) {
  const consumer = new Consumer({ clientId: 'stream-test-reader', groupId: `reader-${topic}-${Date.now()}`, bootstrapBrokers: [broker.bootstrap], deserializers: stringDeserializers, autocommit: false, ...RESILIENT });
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 200 });
  const seen: Output[] = [];
  stream.on('data', (m: Output) => seen.push(m));
  closers.push(async () => {
    await stream.close();
    await consumer.close(true);
  });
  return seen;
}

const header = (m: Output, name: string) => m.headers.get(name);
/** Input offsets of the outputs, per input partition: sentiment-source is topic/partition/offset. */
const source = (m: Output) => {
  const [, partition, offset] = header(m, 'sentiment-source')!.split('/');
  return { partition: Number(partition), offset: BigInt(offset!), id: header(m, 'sentiment-source')! };
};

/** Every input (partition, offset) below `total` per partition is answered; returns the duplicate count. */
function expectEveryInputAnswered(outputs: Output[], total: number): number {
  const ids = outputs.map((m) => source(m).id);
  expect(new Set(ids).size, 'distinct inputs answered').toBe(total);
  return ids.length - total;
}

/** Per key, results follow the inputs' order; a replay after a crash may repeat a stretch, never reorder. */
function expectOrderPerKey(outputs: Output[]) {
  const firstSeen = outputs.filter((m, i, all) => all.findIndex((o) => header(o, 'sentiment-source') === header(m, 'sentiment-source')) === i);
  for (const [key, ms] of Map.groupBy(firstSeen, (m) => m.key)) {
    const offsets = ms.map((m) => source(m).offset);
    expect(offsets, `order of key ${key}`).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(ms.map((m) => m.partition)).size, `output partitions of key ${key}`).toBe(1);
  }
}

function runtime(t: { input: string; output: string; dlq: string; group: string }, extra: string[] = []) {
  return spawnRuntime([
    'serve', '--server.host=127.0.0.1', '--server.port=0', '--server.drainDelayMs=0', `--model.path=${models.demo}`, '--logging.level=info',
    `--stream.bootstrapServers=${broker.bootstrap}`, `--stream.inputTopic=${t.input}`, `--stream.outputTopic=${t.output}`,
    `--stream.deadLetterTopic=${t.dlq}`, `--stream.groupId=${t.group}`, '--stream.sessionTimeoutMs=6000', ...extra,
  ]);
}

async function committed(group: string, topic: string, partitions: number): Promise<bigint[]> {
  const indexes = Array.from({ length: partitions }, (_, i) => i);
  const [offsets] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: indexes }] }] });
  return indexes.map((p) => offsets?.topics.find((x) => x.name === topic)?.partitions.find((x) => x.partitionIndex === p)?.committedOffset ?? -1n);
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^sentiment_runtime_${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[2]), 0);
}

describe('runtime stream mode (real Kafka broker)', () => {
  it('answers keyed texts in order per key with headers, and dead-letters every kind of poison without blocking its partition', async () => {
    const t = await topics('order');
    const outputs = await collect(t.output);
    const dead = await collect(t.dlq);
    const json = (text: string) => Buffer.from(JSON.stringify({ post: { text, lang: 'en' } }));
    // Each key always carries the same sentence, so a result's key says which label is right.
    const sentenceOf = (key: number) => SENTENCES[key % SENTENCES.length]!;
    const good = (n: number) => ({ topic: t.input, key: Buffer.from(`k${n % 6}`), value: json(sentenceOf(n % 6)[0]) });
    const poison: [string, Buffer | undefined][] = [
      ['empty', undefined],
      ['empty', json('   ')],
      ['not-utf8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['invalid-json', Buffer.from('{"post": {"text": "cut')],
      ['missing-field', Buffer.from('{"post": {"body": "no text field"}}')],
      ['too-large', json('x'.repeat(3000))],
    ];
    // Poison in the middle of every key's run: what follows it on the partition must still come out.
    const records = [
      ...Array.from({ length: 120 }, (_, n) => good(n)),
      ...poison.map(([, value], i) => ({ topic: t.input, key: Buffer.from(`k${i}`), ...(value ? { value } : {}) })),
      ...Array.from({ length: 120 }, (_, n) => good(120 + n)),
    ];
    await send(records);

    const child = runtime(t, ['--stream.inputField=post.text', '--stream.maxMessageBytes=2048']);
    const base = await waitForReadyUrl(child);
    try {
      await waitFor(() => outputs.length >= 240 && dead.length >= poison.length, 90_000, () => `${outputs.length} results of 240, ${dead.length} dead letters of ${poison.length}`);
      expect(expectEveryInputAnswered(outputs, 240)).toBe(0);
      expectOrderPerKey(outputs);
      for (const m of outputs) {
        const value = JSON.parse(m.value) as { label: string; score: number; scores: { label: string; score: number }[]; truncated: boolean; warnings: string[] };
        expect(value).toEqual({ label: expect.any(String), score: expect.any(Number), scores: expect.any(Array), truncated: false, warnings: [] });
        expect(header(m, 'sentiment-label')).toBe(value.label);
        expect(Number(header(m, 'sentiment-score'))).toBe(value.score);
        expect(header(m, 'sentiment-model')).toBe('sentiment');
        expect(header(m, 'sentiment-revision')).toBe('local');
      }
      // The known sentences get their known labels: the results are the model's.
      for (const m of outputs) expect(header(m, 'sentiment-label'), `label for key ${m.key}`).toBe(sentenceOf(Number(m.key.slice(1)))[1]);
      expect(dead.map((m) => header(m, 'sentiment-dead-letter-reason')).sort()).toEqual(poison.map(([reason]) => reason).sort());
      for (const m of dead) expect(header(m, 'sentiment-dead-letter-detail')!.length).toBeGreaterThan(0);
      await waitFor(async () => (await committed(t.group, t.input, 3)).reduce((a, b) => a + b, 0n) === BigInt(records.length), 20_000, 'offsets of every record committed');
      expect(await metric(base, 'stream_dead_lettered_records_total')).toBe(poison.length);
      expect(await metric(base, 'stream_produced_records_total')).toBe(240);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('loses nothing when the runtime is SIGKILLed mid-stream: a successor resumes at the committed offset, duplicates counted', async () => {
    const t = await topics('crash');
    const total = 3_000;
    const outputs = await collect(t.output);
    await send(texts(t.input, 0, total));

    const first = runtime(t);
    await waitForReadyUrl(first);
    await waitFor(() => outputs.length >= 600, 90_000, () => `${outputs.length} results before the kill`);
    first.kill('SIGKILL');
    await once(first, 'exit');
    const beforeKill = outputs.length;
    expect(beforeKill).toBeLessThan(total);

    const second = runtime(t);
    await waitForReadyUrl(second);
    try {
      await waitFor(() => new Set(outputs.map((m) => header(m, 'sentiment-source'))).size >= total, 120_000, () => `${new Set(outputs.map((m) => header(m, 'sentiment-source'))).size} of ${total} inputs answered`);
      await waitFor(async () => (await committed(t.group, t.input, 3)).reduce((a, b) => a + b, 0n) === BigInt(total), 20_000, 'every offset committed');
      const duplicates = expectEveryInputAnswered(outputs, total);
      expectOrderPerKey(outputs);
      console.log(`SIGKILL after ${beforeKill} of ${total} results: ${duplicates} duplicates, 0 lost`);
      // Only what was produced but not yet committed can repeat: about the in-flight bound, never the whole stream.
      expect(duplicates).toBeLessThan(1_000);
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
  });

  it('rides out a broker outage: HTTP keeps answering, the stream resumes from the committed offset, nothing is lost', async () => {
    const t = await topics('outage');
    const half = 2_000;
    const outputs = await collect(t.output);
    const child = runtime(t);
    const base = await waitForReadyUrl(child);
    try {
      await send(texts(t.input, 0, half));
      // Mid-stream: records are in flight to the model and the output topic when the broker dies.
      await waitFor(() => outputs.length >= 200, 90_000, () => `${outputs.length} results before the outage`);

      await broker.halt();
      const during = send(texts(t.input, half, half));
      during.catch(() => undefined);
      // The model serves HTTP regardless of Kafka.
      for (let i = 0; i < 5; i++) {
        const answer = await post(`${base}/v1/sentiment`, { text: SENTENCES[i % SENTENCES.length]![0] });
        expect(answer.status).toBe(200);
        expect(answer.json.results[0].label).toBe(SENTENCES[i % SENTENCES.length]![1]);
      }
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      await broker.resume();
      await during;

      await waitFor(() => new Set(outputs.map((m) => header(m, 'sentiment-source'))).size >= 2 * half, 120_000, () => `${new Set(outputs.map((m) => header(m, 'sentiment-source'))).size} of ${2 * half} inputs answered after the outage`);
      await waitFor(async () => (await committed(t.group, t.input, 3)).reduce((a, b) => a + b, 0n) === BigInt(2 * half), 30_000, 'every offset committed after the outage');
      const duplicates = expectEveryInputAnswered(outputs, 2 * half);
      expectOrderPerKey(outputs);
      console.log(`broker outage: ${duplicates} duplicate results, ${await metric(base, 'stream_errors_total')} Kafka errors retried, ${await metric(base, 'stream_redelivered_records_total')} redeliveries skipped`);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('on SIGTERM stops fetching, commits every result it produced, leaves the group and exits 0; a successor repeats nothing', async () => {
    const t = await topics('drain');
    const total = 3_000;
    const outputs = await collect(t.output);
    await send(texts(t.input, 0, total));
    const first = runtime(t);
    await waitForReadyUrl(first);
    await waitFor(() => outputs.length >= 500, 90_000, () => `${outputs.length} results before SIGTERM`);
    const started = performance.now();
    first.kill('SIGTERM');
    const [code] = (await once(first, 'exit')) as [number | null];
    const drainMs = performance.now() - started;
    expect(code, first.output().slice(-2000)).toBe(0);
    expect(first.output()).toContain('stream: stopped');

    // Committed offsets cover exactly what was produced: every result, nothing beyond.
    const producedUpTo = () => {
      const next = new Map<number, bigint>();
      for (const m of outputs) next.set(source(m).partition, [next.get(source(m).partition) ?? 0n, source(m).offset + 1n].reduce((a, b) => (a > b ? a : b)));
      return [0, 1, 2].map((p) => next.get(p) ?? -1n);
    };
    let last: bigint[] = [];
    await waitFor(async () => {
      last = await committed(t.group, t.input, 3);
      return last.join() === producedUpTo().join();
    }, 15_000, () => `committed ${last.join()} but produced up to ${producedUpTo().join()}`);
    const produced = outputs.length;
    const [group] = (await admin.describeGroups({ groups: [t.group] })).values();
    expect(group?.members.size ?? 0, 'members left in the group').toBe(0);
    console.log(`SIGTERM drain: ${drainMs.toFixed(0)} ms, ${produced} results produced and committed`);

    const second = runtime(t);
    await waitForReadyUrl(second);
    try {
      await waitFor(() => outputs.length >= total, 120_000, () => `${outputs.length} of ${total} results after the drain`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(expectEveryInputAnswered(outputs, total), 'duplicates after a clean drain').toBe(0);
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
  });

  it('answers HTTP requests ahead of a stream backlog', async () => {
    const t = await topics('priority');
    const backlog = 6_000;
    const outputs = await collect(t.output);
    await send(texts(t.input, 0, backlog));
    const child = runtime(t, ['--stream.maxInFlight=1500', '--batching.maxQueue=2048']);
    const base = await waitForReadyUrl(child);
    try {
      await waitFor(() => outputs.length >= 300, 90_000, () => `${outputs.length} results before measuring`);
      const from = { results: outputs.length, at: performance.now() };
      const latencies: number[] = [];
      for (let i = 0; i < 20 && outputs.length < backlog - 1_500; i++) {
        const started = performance.now();
        const answer = await post(`${base}/v1/sentiment`, { text: `request ${i}: ${SENTENCES[i % SENTENCES.length]![0]}` });
        latencies.push(performance.now() - started);
        expect(answer.status).toBe(200);
      }
      const rate = (outputs.length - from.results) / ((performance.now() - from.at) / 1000);
      const median = latencies.sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!;
      // Without priority a request would queue behind up to maxInFlight stream texts: 1500 / rate seconds.
      const fifoWaitMs = (1500 / rate) * 1000;
      console.log(`HTTP during a ${backlog}-record backlog: median ${median.toFixed(0)} ms over ${latencies.length} requests; stream ${rate.toFixed(0)} records/s (FIFO wait would be ~${fifoWaitMs.toFixed(0)} ms)`);
      expect(latencies.length).toBeGreaterThanOrEqual(5);
      expect(median).toBeLessThan(fifoWaitMs / 4);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('with several serving processes, each is its own group member and together they answer every record', async () => {
    const t = await topics('processes', 4);
    const total = 2_000;
    const outputs = await collect(t.output);
    await send(texts(t.input, 0, total));
    const child = runtime(t, ['--server.processes=2']);
    const base = await waitForReadyUrl(child, 120_000);
    try {
      await waitFor(() => new Set(outputs.map((m) => header(m, 'sentiment-source'))).size >= total, 120_000, () => `${new Set(outputs.map((m) => header(m, 'sentiment-source'))).size} of ${total} inputs answered`);
      const duplicates = expectEveryInputAnswered(outputs, total);
      expectOrderPerKey(outputs);
      const [group] = (await admin.describeGroups({ groups: [t.group] })).values();
      expect(group?.members.size, 'group members').toBe(2);
      // The supervisor sums the processes' series: every record was consumed by one of them.
      expect(await metric(base, 'stream_consumed_records_total')).toBeGreaterThanOrEqual(total);
      console.log(`2 serving processes: ${duplicates} duplicates (a rebalance when the second joined)`);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
