import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, MessagesStreamModes, ProduceAcks, Producer, stringSerializer, type MessagesStream } from '@platformatic/kafka';
import type { FastifyBaseLogger } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import type { ServedModel } from '../model/served-model.js';
import { decodeInput, type DecodeOptions, type PoisonReason } from './decode.js';
import { connectionOptions } from './kafka-options.js';
import type { StreamObserver } from './observer.js';
import { deadLetterRecord, resultRecord, sourceOf, type InputRecord, type OutputRecord, type ServedIdentity } from './records.js';

/** A stream text may wait behind interactive ones for this long before its chunk is retried. */
const STREAM_DEADLINE_MS = 60_000;
const LAG_INTERVAL_MS = 5_000;
const BACKOFF_INITIAL_MS = 250;
const BACKOFF_MAX_MS = 10_000;
const CLOSE_WAIT_MS = 5_000;
/** Per call, inside the client; the loops here retry without end on top. */
const CLIENT_RETRIES = { retries: 5, retryDelay: 500, timeout: 10_000 } as const;

/** Records classified together and produced together, in consumption order. */
interface Chunk {
  records: InputRecord[];
  outputs: Promise<{ messages: OutputRecord[]; poison: PoisonReason[]; timestamps: bigint[] }>;
}

export interface StreamConsumerOptions {
  config: RuntimeConfig;
  model: ServedModel;
  observer: StreamObserver;
  log: FastifyBaseLogger;
  clientId: string;
}

/**
 * Stream mode inside the serving process: records from the input topic go straight into the
 * model's batcher (as background texts, so HTTP requests go first) and their results to the
 * output topic, in consumption order. An offset is committed only after the result for it (or
 * its dead letter) was acknowledged: a crash can repeat results, never lose one. Kafka outages
 * are retried with backoff for as long as they last; HTTP serving does not depend on them.
 */
export class StreamConsumer {
  private readonly stream: RuntimeConfig['stream'] & { inputTopic: string; outputTopic: string };
  private readonly decode: DecodeOptions;
  private readonly chunkSize: number;
  private readonly producer: Producer<Buffer, Buffer, string, string>;
  private consumer: Consumer | undefined;
  private messages: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private pending: InputRecord[] = [];
  private flushQueued = false;
  private inFlight = 0;
  private paused = false;
  /** Chunks deliver one after another: this is the last one's delivery. */
  private pipeline: Promise<void> = Promise.resolve();
  /** Last offset per partition whose result was acknowledged, to skip redeliveries after a reconnect. */
  private readonly produced = new Map<number, bigint>();
  private readonly toCommit = new Map<number, { offset: bigint; leaderEpoch: number }>();
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private stopping = false;
  private readonly wake = new AbortController();
  private readonly running: Promise<void>;
  private readonly lagTimer: NodeJS.Timeout;

  constructor(private readonly options: StreamConsumerOptions) {
    const { config } = options;
    this.stream = config.stream as StreamConsumer['stream'];
    this.decode = { field: config.stream.inputField?.split('.'), maxBytes: config.stream.maxMessageBytes, maxChars: config.server.maxTextChars };
    this.chunkSize = Math.min(config.stream.maxInFlight, 4 * config.batching.maxBatchSize);
    this.producer = new Producer({
      clientId: `${options.clientId}-producer`,
      ...connectionOptions(config.stream),
      ...CLIENT_RETRIES,
      idempotent: true,
      acks: ProduceAcks.ALL,
      serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
    });
    this.running = this.run();
    this.lagTimer = setInterval(() => void this.reportLag(), LAG_INTERVAL_MS);
  }

  private get identity(): ServedIdentity {
    return { model: this.options.config.model.name, revision: this.options.config.model.revision, info: this.options.model.info };
  }

  /** SIGTERM: stop fetching, deliver and commit what was consumed, leave the group. */
  async stop(): Promise<void> {
    if (this.stopping) return this.running;
    this.stopping = true;
    clearInterval(this.lagTimer);
    this.wake.abort();
    await this.messages?.close().catch((error: unknown) => this.options.log.warn({ err: error }, 'stream: closing the fetch stream failed'));
    await this.settle();
    await this.running;
    await this.consumer?.close().catch((error: unknown) => this.options.log.warn({ err: error }, 'stream: leaving the consumer group failed'));
    await this.producer.close().catch((error: unknown) => this.options.log.warn({ err: error }, 'stream: closing the producer failed'));
    this.options.log.info('stream: stopped; consumed records delivered and committed');
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      let fetched = false;
      try {
        fetched = await this.consumeUntilClosed();
      } catch (error) {
        if (this.stopping) return;
        this.options.observer.streamError('consume');
        this.options.log.warn({ err: error, attempt }, 'stream: consumer failed; reconnecting after backoff');
      }
      if (this.stopping) return;
      if (fetched) attempt = 0;
      // What was handed over is delivered before reconnecting, so the new stream starts at its commit.
      await this.settle();
      // A dead broker cannot acknowledge leaving; the group drops this member after its session timeout.
      const closing = this.consumer?.close(true).catch(() => undefined);
      await Promise.race([closing, sleep(CLOSE_WAIT_MS)]);
      this.consumer = undefined;
      await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt), undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  /** One consumer and its fetch stream until the stream fails (throws) or is closed; true if it fetched anything. */
  private async consumeUntilClosed(): Promise<boolean> {
    const { config, clientId } = this.options;
    const consumer = new Consumer({
      clientId: `${clientId}-consumer`,
      groupId: this.stream.groupId ?? `sentiment-${config.model.name}`,
      ...connectionOptions(this.stream),
      ...CLIENT_RETRIES,
      autocommit: false,
      sessionTimeout: this.stream.sessionTimeoutMs,
      heartbeatInterval: Math.max(1_000, Math.floor(this.stream.sessionTimeoutMs / 10)),
      rebalanceTimeout: this.stream.sessionTimeoutMs,
      maxWaitTime: 500,
      highWaterMark: this.stream.maxInFlight,
    });
    this.consumer = consumer;
    const messages = await consumer.consume({ topics: [this.stream.inputTopic], mode: MessagesStreamModes.COMMITTED, fallbackMode: this.stream.startOffset });
    this.messages = messages;
    this.paused = false;
    if (this.stopping) await messages.close();
    this.options.log.info({ topic: this.stream.inputTopic, groupId: consumer.groupId }, 'stream: consuming');
    // Offsets delivered before a reconnect whose commit failed: the records replayed up to them are skipped, not delivered again.
    void this.commit();
    let fetched = false;
    await new Promise<void>((resolve, reject) => {
      messages.on('data', (record: InputRecord) => {
        fetched = true;
        this.accept(record);
      });
      messages.on('error', reject);
      messages.once('close', resolve);
    });
    return fetched;
  }

  private accept(record: InputRecord): void {
    this.options.observer.consumed(1);
    const last = this.produced.get(record.partition);
    if (last !== undefined && record.offset <= last) {
      this.options.observer.redelivered(1);
      return;
    }
    this.pending.push(record);
    this.inFlight++;
    if (this.inFlight >= this.stream.maxInFlight && !this.paused) {
      this.paused = true;
      this.messages?.pause();
    }
    if (this.pending.length >= this.chunkSize) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      // Records of one fetch arrive in one turn of the event loop: they form one chunk.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    const chunk: Chunk = { records, outputs: this.classify(records) };
    this.pipeline = this.pipeline.then(() => this.deliver(chunk));
  }

  private async classify(records: InputRecord[]): Promise<Awaited<Chunk['outputs']>> {
    const { stream } = this;
    const decoded = records.map((record) => decodeInput(record.value, this.decode));
    const texts = decoded.flatMap((input) => ('text' in input ? [input.text] : []));
    const predictions =
      texts.length === 0
        ? []
        : await this.retry('classify', () => this.options.model.classify(texts, { deadline: performance.now() + STREAM_DEADLINE_MS, background: true }));
    const identity = this.identity;
    const messages: OutputRecord[] = [];
    const poison: PoisonReason[] = [];
    const timestamps: bigint[] = [];
    let next = 0;
    records.forEach((record, i) => {
      const input = decoded[i]!;
      if ('text' in input) {
        messages.push(resultRecord(stream.outputTopic, record, input.text, predictions[next++]!, identity));
        timestamps.push(record.timestamp);
        return;
      }
      poison.push(input.poison);
      this.options.log.warn({ source: sourceOf(record), reason: input.poison, detail: input.detail, deadLetterTopic: stream.deadLetterTopic ?? null }, 'stream: poison record');
      if (stream.deadLetterTopic) messages.push(deadLetterRecord(stream.deadLetterTopic, record, input.poison, input.detail));
    });
    return { messages, poison, timestamps };
  }

  /** Produces a chunk's results and dead letters, then lets its offsets be committed. */
  private async deliver(chunk: Chunk): Promise<void> {
    try {
      const { messages, poison, timestamps } = await chunk.outputs;
      if (messages.length > 0) await this.retry('produce', () => this.producer.send({ messages }));
      this.options.observer.produced(timestamps.length, timestamps, Date.now());
      for (const reason of poison) this.options.observer.deadLettered(reason);
      for (const record of chunk.records) {
        this.produced.set(record.partition, record.offset);
        this.toCommit.set(record.partition, { offset: record.offset + 1n, leaderEpoch: record.leaderEpoch });
      }
    } finally {
      this.inFlight -= chunk.records.length;
      if (this.paused && this.inFlight <= this.stream.maxInFlight / 2) {
        this.paused = false;
        this.messages?.resume();
      }
    }
    void this.commit();
  }

  /** Commits the next offsets to read; one commit at a time, the latest offsets win. */
  private commit(): Promise<void> {
    if (this.committing) {
      this.commitAgain = true;
      return this.committing;
    }
    this.committing = (async () => {
      do {
        this.commitAgain = false;
        const consumer = this.consumer;
        if (!consumer || this.toCommit.size === 0) return;
        const batch = [...this.toCommit];
        this.toCommit.clear();
        const started = performance.now();
        try {
          await consumer.commit({ offsets: batch.map(([partition, { offset, leaderEpoch }]) => ({ topic: this.stream.inputTopic, partition, offset, leaderEpoch })) });
          this.options.observer.committed((performance.now() - started) / 1000);
        } catch (error) {
          this.options.observer.streamError('commit');
          this.options.log.warn({ err: error }, 'stream: commit failed; retried with the next one (uncommitted results may repeat)');
          // Kept for the next commit unless newer offsets arrived meanwhile.
          for (const [partition, offset] of batch) if (!this.toCommit.has(partition)) this.toCommit.set(partition, offset);
          return;
        }
      } while (this.commitAgain);
    })().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  /** Everything handed over so far delivered, and its offsets committed (as far as the broker lets us). */
  private async settle(): Promise<void> {
    this.flush();
    await this.pipeline;
    await this.committing;
    await this.commit();
  }

  /** Until it succeeds: order forbids skipping a chunk, and a crash (or the shutdown timeout) only repeats it. */
  private async retry<T>(operation: 'classify' | 'produce', work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (operation === 'produce') this.options.observer.streamError('produce');
        this.options.log.warn({ err: error, attempt }, `stream: ${operation} failed; retrying`);
        await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt));
      }
    }
  }

  private async reportLag(): Promise<void> {
    const consumer = this.consumer;
    const topic = this.stream.inputTopic;
    const partitions = consumer?.assignments?.find((assignment) => assignment.topic === topic)?.partitions ?? [];
    if (!consumer || partitions.length === 0) {
      this.options.observer.lag(topic, new Map());
      return;
    }
    try {
      const [ends, committed] = await Promise.all([
        consumer.listOffsets({ topics: [topic] }),
        consumer.listCommittedOffsets({ topics: [{ topic, partitions }] }),
      ]);
      const lags = new Map<number, bigint>();
      for (const partition of partitions) {
        const end = ends.get(topic)?.[partition] ?? 0n;
        const at = committed.get(topic)?.[partition] ?? -1n;
        lags.set(partition, at < 0n ? end : end - at);
      }
      this.options.observer.lag(topic, lags);
    } catch (error) {
      this.options.observer.streamError('lag');
      this.options.log.debug({ err: error }, 'stream: lag query failed');
    }
  }
}
