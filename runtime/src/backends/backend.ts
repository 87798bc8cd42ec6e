import type { ExecutionProvider } from '#contract/runtime-config.js';

/** One padded batch, row-major [rows, columns], as the model's int64 inputs. */
export interface Batch {
  rows: number;
  columns: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

export interface BackendInfo {
  /** The provider that actually runs; differs from the requested one after a fallback. */
  executionProvider: ExecutionProvider;
  requestedProvider: ExecutionProvider;
  inputNames: string[];
  numLabels: number;
}

/** A batch's answer. */
export interface BatchOutput {
  /** Row-major [rows, numLabels]. */
  logits: Float32Array;
  /** CPU time the session's thread spent on the batch: thread hops, waits and preemption excluded. */
  runCpuSeconds: number;
}

/** The whole contract between the batcher and a model executor. */
export interface Backend {
  readonly info: BackendInfo;
  /** Set once the backend can no longer run anything; liveness reports it so the pod restarts. */
  readonly failure?: Error | undefined;
  run(batch: Batch): Promise<BatchOutput>;
  close(): Promise<void>;
}
