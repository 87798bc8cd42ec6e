import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, MessagesStreamModes, ProduceAcks, Producer, stringSerializer, type MessagesStream } from '@platformatic/kafka';
import type { FastifyBaseLogger } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import type { ServedModel } from '../model/served-model.js';
import { decodeInput, type DecodeOptions, type PoisonReason } from './decode.js';
import { kafkaErrorCauses } from './kafka-errors.js';
import { connectionOptions } from './kafka-options.js';
import type { StreamObserver } from './observer.js';
import { producedSince } from './produced-tail.js';
import { deadLetterRecord, resultRecord, sourceOf, type InputRecord, type OutputRecord, type ServedIdentity } from './records.js';

/** A stream text may wait behind interactive ones for this long before its chunk is retried. */
const STREAM_DEADLINE_MS = 60_000;
const LAG_INTERVAL_MS = 5_000;
const BACKOFF_INITIAL_MS = 250;
const BACKOFF_MAX_MS = 10_000;
const CLOSE_WAIT_MS = 5_000;
/**
 * How far back the output topics are searched for results a previous owner produced: it lost the
 * partition at most a session timeout before the group moved it (twice, for a slow rebalance), and
 * a restarted pod is back within about a minute unless it crash-loops.
 */
const lookbackMs = (sessionTimeoutMs: number) => 2 * sessionTimeoutMs + 60_000;
/** Per call, inside the client; the loops here retry without end on top. */
const CLIENT_RETRIES = { retries: 5, retryDelay: 500, timeout: 10_000 } as const;

/** What one input record becomes: its result, or its dead letter (none without a dead-letter topic). */
interface Outcome {
  record: InputRecord;
  message: OutputRecord | undefined;
  poison: PoisonReason | undefined;
}

/** Records classified together and produced together, in consumption order. */
interface Chunk {
  records: InputRecord[];
  outcomes: Promise<Outcome[]>;
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
  /** Reads the output topics' tail outside the group, to find results a previous owner produced. */
  private readonly tailReader: Consumer;
  private consumer: Consumer | undefined;
  private messages: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private pending: InputRecord[] = [];
  private flushQueued = false;
  private inFlight = 0;
  private paused = false;
  /** Chunks deliver one after another: this is the last one's delivery. */
  private pipeline: Promise<void> = Promise.resolve();
  /** Last offset per partition whose result this process had acknowledged, to skip redeliveries after a reconnect. */
  private readonly produced = new Map<number, bigint>();
  /** Input offsets whose results were found on the output topics (an earlier owner's, or a send whose acknowledgement was lost): each skipped once. */
  private readonly foundOnOutput = new Map<number, Set<bigint>>();
  /** Input partitions the group last assigned to this process; undefined until it says. */
  private assigned: Set<number> | undefined;
  /** Per partition, how many times the group gave it (back) to this process: a record is this process's to answer only within the holding it was read in. */
  private readonly holdings = new Map<number, number>();
  private readonly readInHolding = new WeakMap<InputRecord, number | undefined>();
  /** Last offset handed over per partition since the group's last assignment; the first record after it is where consumption resumed. */
  private readonly lastAccepted = new Map<number, bigint>();
  /** Records where consumption (re)started on their partition: what an earlier owner produced from there on is looked up before producing. */
  private readonly resumedAt = new WeakSet<InputRecord>();
  private readonly toCommit = new Map<number, { offset: bigint; leaderEpoch: number }>();
  /** Highest offset ever queued for commit per partition: a skipped redelivery never moves a commit back. */
  private readonly queuedUpTo = new Map<number, bigint>();
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
    this.tailReader = new Consumer({ clientId: `${options.clientId}-tail-reader`, groupId: `${options.clientId}-tail-reader`, ...connectionOptions(config.stream), ...CLIENT_RETRIES });
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
    await this.tailReader.close().catch(() => undefined);
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
        this.options.log.warn({ err: error, attempt }, `stream: consumer failed (${kafkaErrorCauses(error)}); reconnecting after backoff`);
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
    // A new consumer's partitions may have been worked on by another member meanwhile.
    this.lastAccepted.clear();
    this.assigned = undefined;
    consumer.on('consumer:group:join', ({ assignments }) => {
      if (!assignments) {
        // The group did not say which partitions are ours: every partition is treated as just (re)assigned.
        this.lastAccepted.clear();
        this.assigned = undefined;
        return;
      }
      const kept = new Set(assignments.find((assignment) => assignment.topic === this.stream.inputTopic)?.partitions ?? []);
      const before = this.assigned;
      this.assigned = kept;
      if (before) for (const partition of kept) if (!before.has(partition)) this.gained(partition);
      // A partition that moves away and comes back may have been worked on by another member meanwhile.
      for (const partition of this.lastAccepted.keys()) if (!kept.has(partition)) this.lastAccepted.delete(partition);
      // Offsets of partitions that moved to another member are theirs to commit now.
      for (const partition of this.toCommit.keys()) if (!kept.has(partition)) this.toCommit.delete(partition);
      void this.commit();
    });
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

  /**
   * A partition back from another member: records read from it in an earlier holding (still in
   * flight here) are no longer this process's to answer, and the fetch stream must not resume it
   * where that holding stopped reading. The stream keeps that position when the group holds no
   * commit for the partition, and even moves it on when a fetch sent before the rebalance answers
   * after it; resuming there would skip records read but dropped here, which the other member may
   * have left unanswered, and the next commit would pass over them. Forgotten, the partition
   * starts again from the group's commit or, without one, from the start policy (results already
   * on the output are found and skipped). This handler runs before the stream's own, which
   * re-reads the positions.
   */
  private gained(partition: number): void {
    this.holdings.set(partition, (this.holdings.get(partition) ?? 0) + 1);
    this.messages?.offsetsToFetch.delete(`${this.stream.inputTopic}:${partition}`);
  }

  /** Still this process's to answer: its partition is assigned here, as it was when the record was read. */
  private owns(record: InputRecord): boolean {
    if (!this.assigned) return true;
    return this.assigned.has(record.partition) && this.readInHolding.get(record) === this.holdings.get(record.partition);
  }

  private accept(record: InputRecord): void {
    this.options.observer.consumed(1);
    this.readInHolding.set(record, this.holdings.get(record.partition));
    const previous = this.lastAccepted.get(record.partition);
    this.lastAccepted.set(record.partition, record.offset);
    const last = this.produced.get(record.partition);
    if (last !== undefined && record.offset <= last) {
      this.options.observer.redelivered(1);
      // Its result is on the output topic: its offset may be committed, or a partition whose rest was all produced before would never be.
      this.queueCommit(record);
      void this.commit();
      return;
    }
    if (previous === undefined || record.offset !== previous + 1n) this.resumedAt.add(record);
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
    const chunk: Chunk = { records, outcomes: this.classify(records) };
    this.pipeline = this.pipeline.then(() => this.deliver(chunk));
  }

  private async classify(records: InputRecord[]): Promise<Outcome[]> {
    const { stream } = this;
    const decoded = records.map((record) => decodeInput(record.value, this.decode));
    const texts = decoded.flatMap((input) => ('text' in input ? [input.text] : []));
    const predictions =
      texts.length === 0
        ? []
        : await this.retry('classify', () => this.options.model.classify(texts, { deadline: performance.now() + STREAM_DEADLINE_MS, background: true }));
    const identity = this.identity;
    let next = 0;
    return records.map((record, i) => {
      const input = decoded[i]!;
      if ('text' in input) return { record, message: resultRecord(stream.outputTopic, record, input.text, predictions[next++]!, identity), poison: undefined };
      this.options.log.warn({ source: sourceOf(record), reason: input.poison, detail: input.detail, deadLetterTopic: stream.deadLetterTopic ?? null }, 'stream: poison record');
      return { record, message: stream.deadLetterTopic ? deadLetterRecord(stream.deadLetterTopic, record, input.poison, input.detail) : undefined, poison: input.poison };
    });
  }

  /** Produces a chunk's results and dead letters, then lets its offsets be committed. */
  private async deliver(chunk: Chunk): Promise<void> {
    try {
      const resumed = chunk.records.filter((record) => this.resumedAt.has(record));
      if (resumed.length > 0) await this.retry('duplicates', () => this.findProduced(resumed));
      /** Records whose result is on the output topics: found there, or sent and acknowledged. */
      const onOutput = new Set<InputRecord>();
      let skipped = 0;
      const notOnOutput = (list: Outcome[]) =>
        list.filter(({ record }) => {
          const found = this.foundOnOutput.get(record.partition)?.delete(record.offset) ?? false;
          if (found) {
            skipped++;
            onOutput.add(record);
          }
          return !found;
        });
      // Records of a partition that moved to another member during classification are its to answer: sending them would repeat its results.
      let outcomes = notOnOutput(await chunk.outcomes).filter(({ record }) => this.owns(record));
      for (let attempt = 0; ; attempt++) {
        const messages = outcomes.flatMap(({ message }) => (message ? [message] : []));
        try {
          if (messages.length > 0) await this.producer.send({ messages });
          break;
        } catch (error) {
          this.options.observer.streamError('produce');
          this.options.log.warn({ err: error, attempt }, `stream: produce failed (${kafkaErrorCauses(error)}); retrying`);
          await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt));
          // A failed send may still have been appended, its acknowledgement lost with the connection: look before sending again.
          await this.retry('duplicates', () => this.findProduced(outcomes.map(({ record }) => record)));
          outcomes = notOnOutput(outcomes).filter(({ record }) => this.owns(record));
        }
      }
      if (skipped > 0) this.options.observer.duplicatesAvoided(skipped);
      const results = outcomes.filter(({ poison }) => poison === undefined);
      this.options.observer.produced(results.length, results.map(({ record }) => record.timestamp), Date.now());
      for (const { poison } of outcomes) if (poison) this.options.observer.deadLettered(poison);
      for (const { record } of outcomes) onOutput.add(record);
      // Only what is on the output may be committed: a record dropped above (its partition moved)
      // whose partition came back before this point was neither sent nor found.
      for (const record of chunk.records) {
        if (!onOutput.has(record) || !this.owns(record)) continue;
        this.produced.set(record.partition, record.offset);
        this.queueCommit(record);
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

  private queueCommit(record: InputRecord): void {
    const next = record.offset + 1n;
    if (next <= (this.queuedUpTo.get(record.partition) ?? -1n)) return;
    this.queuedUpTo.set(record.partition, next);
    this.toCommit.set(record.partition, { offset: next, leaderEpoch: record.leaderEpoch });
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
          this.options.log.warn({ err: error }, `stream: commit failed (${kafkaErrorCauses(error)}); retried with the next one`);
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

  /**
   * Looks up which offsets from these records on (per partition) already have their result on the
   * output topics, so that they are skipped instead of repeated: where consumption resumed (after
   * a killed process or a member that lost the partition) and before sending a failed send again.
   */
  private async findProduced(records: InputRecord[]): Promise<void> {
    const from = new Map<number, bigint>();
    for (const { partition, offset } of records) if (offset < (from.get(partition) ?? offset + 1n)) from.set(partition, offset);
    const topics = [this.stream.outputTopic, ...(this.stream.deadLetterTopic ? [this.stream.deadLetterTopic] : [])];
    const found = await producedSince(this.tailReader, topics, this.stream.inputTopic, from, lookbackMs(this.stream.sessionTimeoutMs));
    for (const [partition, offsets] of found) {
      const known = this.foundOnOutput.get(partition) ?? new Set<bigint>();
      for (const offset of offsets) known.add(offset);
      this.foundOnOutput.set(partition, known);
    }
    if (found.size > 0) this.options.log.info({ found: Object.fromEntries([...found].map(([p, o]) => [p, o.size])), from: Object.fromEntries([...from].map(([p, o]) => [p, String(o)])) }, 'stream: results already on the output topics; skipping them');
  }

  /** Everything handed over so far delivered, and its offsets committed (as far as the broker lets us). */
  private async settle(): Promise<void> {
    this.flush();
    await this.pipeline;
    await this.committing;
    await this.commit();
  }

  /** Until it succeeds: order forbids skipping a chunk, and a crash (or the shutdown timeout) only repeats it. */
  private async retry<T>(operation: 'classify' | 'duplicates', work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (operation !== 'classify') this.options.observer.streamError(operation);
        this.options.log.warn({ err: error, attempt }, `stream: ${operation} failed (${kafkaErrorCauses(error)}); retrying`);
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
