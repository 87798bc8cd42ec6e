import { FetchIsolationLevels, type Consumer } from '@platformatic/kafka';
import { HEADERS } from './records.js';

/** Bound on the records read per output partition, whatever the lookback holds: a busy topic costs a second or two per partition, not minutes. */
const MAX_TAIL_RECORDS = 50_000n;
const FETCH_BYTES = 4 * 1024 * 1024;
const sourceHeader = Buffer.from(HEADERS.source);

/**
 * For each input partition in `from`, the input offsets at or after its `from` whose result (or
 * dead letter) is already on one of `topics`, read from their recent tail as a read_committed
 * consumer would see it: what a previous owner produced but did not commit before it died, or a
 * send whose acknowledgement was lost. Exact offsets, not a high-water mark: a send spans output
 * partitions, and one of them may have been appended while another was not.
 */
export async function producedSince(reader: Consumer, topics: string[], inputTopic: string, from: Map<number, bigint>, lookbackMs: number, now = Date.now()): Promise<Map<number, Set<bigint>>> {
  const found = new Map<number, Set<bigint>>();
  const [metadata, ends, recent] = await Promise.all([
    reader.metadata({ topics, forceUpdate: true }),
    reader.listOffsets({ topics, isolationLevel: FetchIsolationLevels.READ_COMMITTED }),
    reader.listOffsets({ topics, timestamp: BigInt(now - lookbackMs), isolationLevel: FetchIsolationLevels.READ_COMMITTED }),
  ]);
  for (const topic of topics) {
    const described = metadata.topics.get(topic);
    if (!described) continue;
    for (const [partition, { leader }] of described.partitions.entries()) {
      const end = ends.get(topic)?.[partition] ?? 0n;
      // No record since the lookback: the offset at that time is -1 (the end).
      const sinceLookback = recent.get(topic)?.[partition] ?? -1n;
      let offset = sinceLookback < 0n ? end : sinceLookback;
      if (end - offset > MAX_TAIL_RECORDS) offset = end - MAX_TAIL_RECORDS;
      while (offset < end) {
        const response = await reader.fetch({
          node: leader,
          topics: [{ topicId: described.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: FETCH_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
          maxWaitTime: 0,
          maxBytes: FETCH_BYTES,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        const answer = response.responses[0]?.partitions[0];
        if (answer && answer.errorCode !== 0) throw new Error(`reading ${topic}/${partition} at ${offset}: Kafka error code ${answer.errorCode}`);
        const batches = answer?.records ?? [];
        if (batches.length === 0) break;
        for (const batch of batches) {
          for (const record of batch.records) {
            if (batch.firstOffset + BigInt(record.offsetDelta) < offset) continue;
            const source = record.headers.find(([key]) => key?.equals(sourceHeader))?.[1]?.toString();
            const at = source && parseSource(source, inputTopic);
            if (!at) continue;
            const start = from.get(at.partition);
            if (start === undefined || at.offset < start) continue;
            const offsets = found.get(at.partition) ?? new Set<bigint>();
            found.set(at.partition, offsets.add(at.offset));
          }
          offset = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
    }
  }
  return found;
}

/** topic/partition/offset as records.ts writes it; Kafka topic names hold no slash, so the split is exact. */
function parseSource(source: string, inputTopic: string): { partition: number; offset: bigint } | undefined {
  const [topic, partition, offset] = source.split('/');
  if (topic !== inputTopic || partition === undefined || offset === undefined || !/^\d+$/.test(partition) || !/^\d+$/.test(offset)) return undefined;
  return { partition: Number(partition), offset: BigInt(offset) };
}
