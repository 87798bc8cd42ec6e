import { Worker } from 'node:worker_threads';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { ModelLoadError } from '../model/errors.js';
import type { ModelManifest } from '../model/manifest.js';
import type { Backend, BackendInfo, Batch, BatchOutput } from './backend.js';
import type { RunRequest, RunResult, WorkerFailed, WorkerInit, WorkerReady } from './onnx-worker.js';

// Under tests the sources run as TypeScript; the built package ships the compiled worker.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './onnx-worker.ts' : './onnx-worker.js', import.meta.url);

interface Pending {
  resolve: (output: BatchOutput) => void;
  reject: (error: Error) => void;
}

/** One worker thread owning one onnxruntime session. */
class SessionWorker {
  private nextId = 0;
  readonly pending = new Map<number, Pending>();

  constructor(
    readonly worker: Worker,
    onFailure: (error: Error) => void,
    isClosed: () => boolean,
  ) {
    worker.on('message', (result: RunResult) => this.settle(result));
    worker.on('error', onFailure);
    worker.on('exit', (code) => {
      if (!isClosed()) onFailure(new Error(`inference worker exited with code ${code}`));
    });
  }

  run(batch: Batch): Promise<BatchOutput> {
    const id = this.nextId++;
    const request: RunRequest = { id, ...batch };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(request, [batch.inputIds.buffer, batch.attentionMask.buffer, batch.tokenTypeIds.buffer] as ArrayBuffer[]);
    });
  }

  rejectAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  private settle(result: RunResult): void {
    const pending = this.pending.get(result.id);
    if (!pending) return;
    this.pending.delete(result.id);
    if ('error' in result) pending.reject(new Error(`inference failed: ${result.error}`));
    else pending.resolve({ logits: result.logits, runCpuSeconds: result.runCpuSeconds });
  }
}

/**
 * Inference runs at the lowest CPU priority Linux has, below the threads that read, refuse and
 * answer requests and the probes: on a saturated pod those must not wait behind compute, or 429s
 * come seconds late (overload test at 3,000 requests/s on a slow 2-core machine: 429s up to 9 s
 * at the process's priority, 1.9-3.4 s at this one). Compute loses only the CPU those threads use;
 * a pod's cgroup keeps other pods out of the comparison, and lowering one's own priority needs no
 * privilege.
 */
export const INFERENCE_NICENESS = 19;

/** The session settings with the layout already resolved: `sessions` workers of `intraOpThreads` each. */
export type SessionSettings = RuntimeConfig['session'];

/**
 * onnxruntime sessions owned by worker threads, one per core of the quota by default: one
 * session.run keeps about one core busy on a small model, so a single session leaves the rest of
 * the pod idle. A batch goes to the session with the fewest batches outstanding, its buffers
 * transferred, not copied.
 */
export class OnnxBackend implements Backend {
  private closed = false;
  private readonly sessions: SessionWorker[];
  failure: Error | undefined;

  private constructor(
    workers: Worker[],
    readonly info: BackendInfo,
  ) {
    this.sessions = workers.map((worker) => new SessionWorker(worker, (error) => this.fail(error), () => this.closed));
  }

  static async open(manifest: ModelManifest, session: SessionSettings, onFallback: (reason: string) => void): Promise<OnnxBackend> {
    const init: WorkerInit = {
      onnxFile: manifest.onnxFile,
      executionProvider: session.executionProvider,
      cudaDeviceId: session.cudaDeviceId,
      allowCpuFallback: session.allowCpuFallback,
      intraOpThreads: session.intraOpThreads,
      interOpThreads: session.interOpThreads,
      spinWait: session.spinWait,
      niceness: INFERENCE_NICENESS,
      numLabels: manifest.labels.length,
    };
    const workers = Array.from({ length: Math.max(1, session.sessions) }, () => new Worker(workerUrl, { workerData: init }));
    // Every worker settles before any is terminated: terminating one still inside onnxruntime's
    // session creation aborts the whole process (a native Napi::Error) instead of the one-line error.
    const outcomes = await Promise.allSettled(workers.map((worker) => readiness(worker, manifest.onnxFile)));
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw failed.reason;
    }
    const ready = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<WorkerReady>).value);
    const first = ready[0]!;
    if (first.fallbackReason) onFallback(first.fallbackReason);
    return new OnnxBackend(workers, {
      executionProvider: first.executionProvider,
      requestedProvider: session.executionProvider,
      inputNames: first.inputNames,
      numLabels: manifest.labels.length,
    });
  }

  run(batch: Batch): Promise<BatchOutput> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('inference backend is closed'));
    let least = this.sessions[0]!;
    for (const session of this.sessions) if (session.pending.size < least.pending.size) least = session;
    return least.run(batch);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.sessions.map((session) => session.worker.terminate()));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const session of this.sessions) session.rejectAll(error);
  }
}

function readiness(worker: Worker, onnxFile: string): Promise<WorkerReady> {
  return new Promise<WorkerReady>((resolve, reject) => {
    worker.once('message', (message: WorkerReady | WorkerFailed) => {
      if (message.kind === 'ready') resolve(message);
      else reject(new ModelLoadError(onnxFile, message.message));
    });
    worker.once('error', (error) => reject(new ModelLoadError(onnxFile, error.message)));
  });
}
