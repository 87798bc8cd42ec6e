import { Worker } from 'node:worker_threads';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { ModelLoadError } from '../model/errors.js';
import type { ModelManifest } from '../model/manifest.js';
import type { Backend, BackendInfo, Batch } from './backend.js';
import type { RunRequest, RunResult, WorkerFailed, WorkerInit, WorkerReady } from './onnx-worker.js';

// Under tests the sources run as TypeScript; the built package ships the compiled worker.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './onnx-worker.ts' : './onnx-worker.js', import.meta.url);

interface Pending {
  resolve: (logits: Float32Array) => void;
  reject: (error: Error) => void;
}

/** An onnxruntime session owned by a worker thread; batches are posted to it with their buffers transferred. */
export class OnnxBackend implements Backend {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly info: BackendInfo,
  ) {
    worker.on('message', (result: RunResult) => this.settle(result));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`inference worker exited with code ${code}`));
    });
  }

  static async open(manifest: ModelManifest, session: RuntimeConfig['session'], onFallback: (reason: string) => void): Promise<OnnxBackend> {
    const init: WorkerInit = {
      onnxFile: manifest.onnxFile,
      executionProvider: session.executionProvider,
      cudaDeviceId: session.cudaDeviceId,
      allowCpuFallback: session.allowCpuFallback,
      intraOpThreads: session.intraOpThreads,
      interOpThreads: session.interOpThreads,
      spinWait: session.spinWait,
      numLabels: manifest.labels.length,
    };
    const worker = new Worker(workerUrl, { workerData: init });
    const ready = await new Promise<WorkerReady>((resolve, reject) => {
      worker.once('message', (message: WorkerReady | WorkerFailed) => {
        if (message.kind === 'ready') resolve(message);
        else reject(new ModelLoadError(manifest.onnxFile, message.message));
      });
      worker.once('error', (error) => reject(new ModelLoadError(manifest.onnxFile, error.message)));
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    if (ready.fallbackReason) onFallback(ready.fallbackReason);
    return new OnnxBackend(worker, {
      executionProvider: ready.executionProvider,
      requestedProvider: session.executionProvider,
      inputNames: ready.inputNames,
      numLabels: manifest.labels.length,
    });
  }

  run(batch: Batch): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('inference backend is closed'));
    const id = this.nextId++;
    const request: RunRequest = { id, ...batch };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(request, [batch.inputIds.buffer, batch.attentionMask.buffer, batch.tokenTypeIds.buffer] as ArrayBuffer[]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  private settle(result: RunResult): void {
    const pending = this.pending.get(result.id);
    if (!pending) return;
    this.pending.delete(result.id);
    if ('error' in result) pending.reject(new Error(`inference failed: ${result.error}`));
    else pending.resolve(result.logits);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
