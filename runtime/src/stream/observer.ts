import type { PoisonReason } from './decode.js';

export type StreamOperation = 'consume' | 'produce' | 'commit' | 'lag' | 'duplicates';

/** What the stream consumer reports; RuntimeMetrics turns it into Prometheus series. */
export interface StreamObserver {
  consumed(count: number): void;
  /** Results acknowledged, with their input records' timestamps (ms) for end-to-end latency. */
  produced(count: number, timestamps: bigint[], now: number): void;
  deadLettered(reason: PoisonReason): void;
  redelivered(count: number): void;
  /** Records whose result an earlier owner had produced without committing (found on the output topic): skipped. */
  duplicatesAvoided(count: number): void;
  committed(seconds: number): void;
  /** Lag per partition assigned to this process; partitions absent here are not this process's. */
  lag(topic: string, lags: Map<number, bigint>): void;
  streamError(operation: StreamOperation): void;
}
