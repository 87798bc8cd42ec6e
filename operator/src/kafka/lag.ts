import { Admin, AuthenticationError } from '@platformatic/kafka';
import { consumerGroupOf, type SentimentModel } from '../api/v1alpha1/index.js';
import { connectionFor, connectionKey, credentialsSource, type SecretReader } from './connection.js';

/**
 * The operator's only Kafka client: per model with metric kafkaLag, an admin connection to its
 * brokers that reads the consumer group's lag (end offsets minus committed offsets, every
 * partition of the input topic). Lag needs no running pod, which is what lets the autoscaler
 * scale a stream model from zero.
 */

export interface LagReading {
  /** Uncommitted records summed over the partitions. */
  lag: number;
  /** Partitions of the input topic, from the brokers' metadata. */
  partitions: number;
}

export interface LagReaderOptions {
  secrets: SecretReader;
  clientId: string;
  /** Limit for one broker request (and for connecting); a slower broker counts as unreachable. */
  timeoutMs: number;
  /** Least and most time between attempts after failures, doubling from one to the other. */
  backoffMs: { min: number; max: number };
  clock(): number;
}

interface Connection {
  key: string;
  admin?: Admin;
  failures: number;
  retryAt: number;
  lastError?: Error;
}

/** Kafka's "latest" and "earliest" in a ListOffsets request. */
const LATEST = -1n;
const EARLIEST = -2n;

export class KafkaLagReader {
  private readonly connections = new Map<string, Connection>();

  constructor(private readonly opts: LagReaderOptions) {}

  /**
   * The group's lag now. Throws when it cannot be read (brokers unreachable, a Secret missing,
   * the topic absent); the client is then closed and, after a backoff, connected again with the
   * Secrets read anew, so rotated credentials are picked up. Within the backoff the last error is
   * thrown again without asking the brokers.
   */
  async read(model: SentimentModel): Promise<LagReading> {
    const id = `${model.metadata.namespace}/${model.metadata.name}`;
    const key = connectionKey(model);
    let conn = this.connections.get(id);
    if (conn && conn.key !== key) {
      await this.forget(id);
      conn = undefined;
    }
    if (!conn) {
      conn = { key, failures: 0, retryAt: 0 };
      this.connections.set(id, conn);
    }
    if (conn.lastError && this.opts.clock() < conn.retryAt) throw conn.lastError;
    try {
      conn.admin ??= new Admin({
        clientId: this.opts.clientId, ...(await connectionFor(model, this.opts.secrets)),
        timeout: this.opts.timeoutMs, connectTimeout: this.opts.timeoutMs, requestTimeout: this.opts.timeoutMs, retries: 0,
      });
      const reading = await readLag(conn.admin, model);
      conn.failures = 0;
      delete conn.lastError;
      return reading;
    } catch (error) {
      const refusedBy = refusedCredentials(error) ? credentialsSource(model) : undefined;
      const err = new Error(refusedBy ? `${describe(error)} (${refusedBy})` : describe(error));
      const { min, max } = this.opts.backoffMs;
      conn.retryAt = this.opts.clock() + Math.min(max, min * 2 ** conn.failures);
      conn.failures++;
      conn.lastError = err;
      const admin = conn.admin;
      delete conn.admin;
      await admin?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Closes the model's client (autoscaling turned off, model deleted, leadership lost). */
  async forget(id: string): Promise<void> {
    const conn = this.connections.get(id);
    this.connections.delete(id);
    await conn?.admin?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.keys()].map((id) => this.forget(id)));
  }
}

async function readLag(admin: Admin, model: SentimentModel): Promise<LagReading> {
  const kafka = model.spec.stream!.kafka;
  const topic = kafka.inputTopic;
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const partitions = metadata.topics.get(topic)?.partitionsCount;
  if (!partitions) throw new Error(`topic ${topic} not found on the brokers`);
  const indexes = Array.from({ length: partitions }, (_, i) => i);
  const at = (timestamp: bigint) => [{ name: topic, partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })) }];
  const [ends, starts, groups] = await Promise.all([
    admin.listOffsets({ topics: at(LATEST) }),
    // Only needed for partitions the group never committed, whose consumers begin at startOffset.
    kafka.startOffset === 'earliest' ? admin.listOffsets({ topics: at(EARLIEST) }) : undefined,
    admin.listConsumerGroupOffsets({ groups: [{ groupId: consumerGroupOf(kafka, model.metadata.namespace, model.metadata.name), topics: [{ name: topic, partitionIndexes: indexes }] }] }),
  ]);
  const offsets = (listed: typeof ends | undefined) => new Map(listed?.find((t) => t.name === topic)?.partitions.map((p) => [p.partitionIndex, p.offset]));
  const end = offsets(ends);
  const start = offsets(starts);
  const committed = new Map(groups[0]?.topics.find((t) => t.name === topic)?.partitions.map((p) => [p.partitionIndex, p.committedOffset]));
  let lag = 0n;
  for (const partition of indexes) {
    const last = end.get(partition);
    if (last === undefined) throw new Error(`no end offset for ${topic}/${partition}`);
    const at = committed.get(partition) ?? -1n;
    // No commit yet: the consumer will begin at startOffset, so everything from there is lag.
    const from = at >= 0n ? at : kafka.startOffset === 'earliest' ? (start.get(partition) ?? 0n) : last;
    if (last > from) lag += last - from;
  }
  return { lag: Number(lag), partitions };
}

/** Whether the brokers refused the credentials, found inside the client's nesting (a request around connections around the SASL exchange). */
function refusedCredentials(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  if (error instanceof AuthenticationError) return true;
  const nested = [...(error instanceof AggregateError ? error.errors : []), ...(error.cause !== undefined ? [error.cause] : [])];
  return nested.some((inner) => refusedCredentials(inner, depth + 1));
}

/**
 * The client's errors nest ("Listing consumer group offsets failed." around the broker's answer);
 * the status and the event need the innermost reasons, once each.
 */
function describe(error: unknown): string {
  const reasons: string[] = [];
  const walk = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 4) {
      if (!(e instanceof Error)) reasons.push(String(e));
      return;
    }
    const nested = [...(e instanceof AggregateError ? e.errors : []), ...(e.cause !== undefined ? [e.cause] : [])];
    if (nested.length === 0 || depth === 4) reasons.push(e.message.replace(/\.$/, ''));
    for (const inner of nested) walk(inner, depth + 1);
  };
  walk(error, 0);
  const outer = error instanceof Error ? error.message.replace(/\.$/, '') : '';
  const inner = [...new Set(reasons)].filter((r) => r !== outer);
  return inner.length > 0 ? `${outer}: ${inner.join('; ')}` : outer || String(error);
}
