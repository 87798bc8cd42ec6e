// Runs in a worker thread. onnxruntime-node's session.run is synchronous on the calling thread,
// so the session lives here and the main thread keeps serving HTTP while a batch runs.
// Self-contained on purpose (npm imports only): Node loads it directly from .ts under tests.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

export interface WorkerInit {
  onnxFile: string;
  executionProvider: 'cpu' | 'cuda';
  cudaDeviceId: number;
  allowCpuFallback: boolean;
  intraOpThreads: number;
  interOpThreads: number;
  spinWait: boolean;
  /** For this thread and the onnxruntime pool threads it creates. */
  niceness: number;
  numLabels: number;
}
export type WorkerReady = { kind: 'ready'; executionProvider: 'cpu' | 'cuda'; fallbackReason?: string; inputNames: string[] };
export type WorkerFailed = { kind: 'failed'; message: string };
export interface RunRequest {
  id: number;
  rows: number;
  columns: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}
export type RunResult = { id: number; logits: Float32Array; runCpuSeconds: number } | { id: number; error: string };

const REQUIRED_INPUTS = ['input_ids', 'attention_mask'];
const OPTIONAL_INPUTS = ['token_type_ids'];

const init = workerData as WorkerInit;
const port = parentPort!;

function sessionOptions(provider: 'cpu' | 'cuda'): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId: init.cudaDeviceId }] : ['cpu'],
    graphOptimizationLevel: 'all',
    // Spinning intra-op threads steal the cores the HTTP thread and the tokenizer need (measured:
    // ~2.0 vs ~1.3 CPU ms per sentence in the server on 2 shared cores).
    extra: { session: { intra_op: { allow_spinning: init.spinWait ? '1' : '0' }, inter_op: { allow_spinning: init.spinWait ? '1' : '0' } } },
    ...(init.intraOpThreads > 0 ? { intraOpNumThreads: init.intraOpThreads } : {}),
    ...(init.interOpThreads > 0 ? { interOpNumThreads: init.interOpThreads } : {}),
  };
}

async function open(): Promise<{ session: ort.InferenceSession; provider: 'cpu' | 'cuda'; fallbackReason?: string }> {
  if (init.executionProvider === 'cuda') {
    try {
      return { session: await ort.InferenceSession.create(init.onnxFile, sessionOptions('cuda')), provider: 'cuda' };
    } catch (error) {
      const fallbackReason = firstLine(error);
      // A GPU model silently served on the CPU would be 10-100x slower than planned: opt-in only.
      if (!init.allowCpuFallback) throw new Error(`CUDA execution provider unavailable (${fallbackReason}); set session.allowCpuFallback to serve on the CPU`);
      return { session: await ort.InferenceSession.create(init.onnxFile, sessionOptions('cpu')), provider: 'cpu', fallbackReason };
    }
  }
  return { session: await ort.InferenceSession.create(init.onnxFile, sessionOptions('cpu')), provider: 'cpu' };
}

function checkSignature(session: ort.InferenceSession): { outputName: string } {
  for (const name of REQUIRED_INPUTS) {
    if (!session.inputNames.includes(name)) throw new Error(`the model has no "${name}" input (inputs: ${session.inputNames.join(', ')})`);
  }
  const unsupported = session.inputNames.filter((name) => !REQUIRED_INPUTS.includes(name) && !OPTIONAL_INPUTS.includes(name));
  if (unsupported.length > 0) {
    throw new Error(`unsupported model input "${unsupported[0]}" (supported: ${[...REQUIRED_INPUTS, ...OPTIONAL_INPUTS].join(', ')})`);
  }
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames.length === 1 ? session.outputNames[0]! : undefined;
  if (!outputName) throw new Error(`the model has no "logits" output (outputs: ${session.outputNames.join(', ')})`);
  const meta = session.outputMetadata.find((m) => m.name === outputName);
  const classes = meta && meta.isTensor ? meta.shape.at(-1) : undefined;
  if (typeof classes === 'number' && classes !== init.numLabels) {
    throw new Error(`the model outputs ${classes} classes but config.json names ${init.numLabels} labels`);
  }
  return { outputName };
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const raw = tensor.data as unknown as Uint16Array | Float32Array;
    return raw instanceof Uint16Array ? Float32Array.from(raw, halfToFloat) : Float32Array.from(raw);
  }
  throw new Error(`unsupported output type ${tensor.type}`);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}

/**
 * Linux keeps niceness per thread, and onnxruntime's pool threads, created by this one when the
 * session opens, inherit it. Elsewhere the worker keeps the process's.
 */
function lowerPriority(niceness: number): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (getPriority(threadId) < niceness) setPriority(threadId, niceness);
  } catch {
    // No /proc/thread-self (not Linux): nothing to lower.
  }
}

try {
  lowerPriority(init.niceness);
  const { session, provider, fallbackReason } = await open();
  const { outputName } = checkSignature(session);
  const usesTypeIds = session.inputNames.includes('token_type_ids');
  port.on('message', async (request: RunRequest) => {
    try {
      const shape = [request.rows, request.columns];
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', request.inputIds, shape),
        attention_mask: new ort.Tensor('int64', request.attentionMask, shape),
      };
      if (usesTypeIds) feeds.token_type_ids = new ort.Tensor('int64', request.tokenTypeIds, shape);
      // CPU time, not wall time: on shared cores a run preempted by the HTTP thread would look
      // like a per-batch overhead that batching could save. The kernel advances a thread's CPU
      // time only at ticks and context switches, so one run's figure is coarse but unbiased: the
      // batcher fits a line through hundreds of them.
      const started = process.threadCpuUsage();
      const output = await session.run(feeds, [outputName]);
      const used = process.threadCpuUsage(started);
      const runCpuSeconds = (used.user + used.system) / 1e6;
      // A copy we own: the tensor's memory belongs to onnxruntime and cannot be transferred.
      const logits = toFloat32(output[outputName]!).slice();
      const result: RunResult = { id: request.id, logits, runCpuSeconds };
      port.postMessage(result, [logits.buffer as ArrayBuffer]);
    } catch (error) {
      port.postMessage({ id: request.id, error: firstLine(error) } satisfies RunResult);
    }
  });
  port.postMessage({ kind: 'ready', executionProvider: provider, inputNames: [...session.inputNames], ...(fallbackReason ? { fallbackReason } : {}) } satisfies WorkerReady);
} catch (error) {
  port.postMessage({ kind: 'failed', message: firstLine(error) } satisfies WorkerFailed);
}
