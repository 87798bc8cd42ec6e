// Kafka load and measurement for bench:stream: a keyed backlog, an open-loop producer, a watcher of
// the output topic, and a per-message HTTP bridge (the KubeAI messenger's shape) to compare with.
import { Consumer, MessagesStreamModes, ProduceAcks, Producer, type Message } from '@platformatic/kafka';

type Record = Message<Buffer, Buffer, Buffer, Buffer>;

/** `count` keyed records `${prefix}${i}`, the SST-2 sentences in turn, sent in batches of 1000. */
export async function produceBacklog(producer: Producer, topic: string, prefix: string, count: number, sentences: string[]): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    await producer.send({
      messages: Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
        topic, key: Buffer.from(`${prefix}${i + j}`), value: Buffer.from(sentences[(i + j) % sentences.length]!),
      })),
    });
  }
}

/**
 * Open loop: records leave at `perSecond` whatever the consumer does (a closed loop would slow
 * down with the system and hide its queueing). Each carries its send time as the record
 * timestamp; `sentAt` maps its key to that time.
 */
export async function produceAtRate(producer: Producer, topic: string, prefix: string, perSecond: number, seconds: number, sentences: string[]): Promise<{ sentAt: Map<string, number>; failed: number }> {
  const sentAt = new Map<string, number>();
  const sends: Promise<unknown>[] = [];
  let failed = 0;
  const total = Math.round(perSecond * seconds);
  const start = performance.now();
  while (sentAt.size < total) {
    // Timers on a busy machine fire late; what is due is sent at once, so the rate holds on average.
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond)) - sentAt.size;
    if (due > 0) {
      const now = Date.now();
      const messages = Array.from({ length: due }, () => {
        const i = sentAt.size;
        sentAt.set(`${prefix}${i}`, now);
        return { topic, key: Buffer.from(`${prefix}${i}`), value: Buffer.from(sentences[i % sentences.length]!), timestamp: BigInt(now) };
      });
      sends.push(producer.send({ messages }).catch(() => void (failed += messages.length)));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(sends);
  return { sentAt, failed };
}

export interface Arrival {
  key: string;
  /** Wall-clock ms when the bench received it from the output topic. */
  receivedAt: number;
  /** The output record's timestamp: set by the runtime's producer when it sent the result. */
  producedAt: number;
}

/**
 * Reads an output topic from the start and counts distinct keys with `prefix`; repeats (at-least-
 * once after a rebalance) are counted apart. `until(n)` resolves when n distinct keys arrived.
 */
export class OutputWatch {
  readonly seen = new Set<string>();
  duplicates = 0;
  firstAt = Number.NaN;
  lastAt = Number.NaN;
  private waiters: { n: number; resolve: () => void }[] = [];
  private consumer: Consumer | undefined;
  private stream: Awaited<ReturnType<Consumer['consume']>> | undefined;

  constructor(private readonly prefix: string, private readonly onArrival?: (arrival: Arrival) => void) {}

  async start(bootstrapBrokers: string[], topic: string): Promise<this> {
    this.consumer = new Consumer({ clientId: 'bench-watch', groupId: `watch-${topic}-${this.prefix}`, bootstrapBrokers, autocommit: false });
    this.stream = await this.consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 50 });
    this.stream.on('data', (record: Record) => {
      const key = record.key?.toString() ?? '';
      if (!key.startsWith(this.prefix)) return;
      if (this.seen.has(key)) {
        this.duplicates++;
        return;
      }
      const now = performance.now();
      if (this.seen.size === 0) this.firstAt = now;
      this.lastAt = now;
      this.seen.add(key);
      this.onArrival?.({ key, receivedAt: Date.now(), producedAt: Number(record.timestamp) });
      this.waiters = this.waiters.filter((w) => (this.seen.size >= w.n ? (w.resolve(), false) : true));
    });
    return this;
  }

  until(n: number, timeoutMs: number): Promise<void> {
    if (this.seen.size >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.seen.size} of ${n} results with keys ${this.prefix}* arrived within ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Results per second between the first and the last arrival: the steady rate, start-up excluded. */
  get steadyRate(): number {
    return (this.seen.size - 1) / ((this.lastAt - this.firstAt) / 1000);
  }

  async stop(): Promise<void> {
    await this.stream?.close();
    await this.consumer?.close(true);
  }
}

/**
 * The per-message shape: one POST /v1/sentiment per record and one produce per answer, `handlers`
 * records in flight, offsets autocommitted. Runs until stop().
 */
export async function perMessageBridge(bootstrapBrokers: string[], serverUrl: string, topics: { input: string; output: string }, handlers: number): Promise<{ stop(): Promise<void> }> {
  const bridge = new Consumer({ clientId: 'bench-bridge', groupId: 'bench-permsg', bootstrapBrokers, autocommit: true, highWaterMark: handlers });
  const out = new Producer({ clientId: 'bench-bridge-out', bootstrapBrokers, acks: ProduceAcks.ALL, idempotent: true });
  const stream = await bridge.consume({ topics: [topics.input], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 100 });
  let inFlight = 0;
  let stopped = false;
  const idle: (() => void)[] = [];
  stream.on('data', (record: Record) => {
    if (++inFlight >= handlers) stream.pause();
    void (async () => {
      try {
        const response = await fetch(`${serverUrl}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: record.value.toString() }) });
        const body = (await response.json()) as { results: unknown[] };
        await out.send({ messages: [{ topic: topics.output, key: record.key, value: Buffer.from(JSON.stringify(body.results[0])) }] });
      } catch (error) {
        if (!stopped) throw error;
      } finally {
        if (--inFlight < handlers && !stopped) stream.resume();
        if (inFlight === 0) idle.splice(0).forEach((resolve) => resolve());
      }
    })();
  });
  return {
    async stop() {
      stopped = true;
      stream.pause();
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      await stream.close();
      await bridge.close(true);
      await out.close();
    },
  };
}
