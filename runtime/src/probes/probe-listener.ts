import { Worker } from 'node:worker_threads';
import { HEARTBEAT, PHASE, PHASES, probeStateBuffer, STALL_MS, type ProbePhase } from './probe-state.js';

export interface ProbeWorkerData {
  state: SharedArrayBuffer;
  host: string;
  port: number;
  reusePort: boolean;
  stallMs: number;
}
export type ToProbeWorker = { type: 'failure'; error: string };
export type FromProbeWorker = { type: 'listening'; port: number } | { type: 'error'; code?: string | undefined; message: string };

/** How often the main thread proves its event loop runs; the probes' staleness bound (STALL_MS) is far above it. */
const HEARTBEAT_MS = 250;

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './probe-worker.ts' : './probe-worker.js', import.meta.url);

/**
 * /healthz and /readyz on a port of their own (server.probePort), answered by a worker thread.
 * The main thread only writes a heartbeat and its phase into shared memory on a timer, so the
 * answers are honest about it (a stuck main loop fails liveness after STALL_MS) while the kubelet
 * never waits behind the inference traffic the main loop is busy with.
 */
export class ProbeListener {
  private constructor(
    private readonly worker: Worker,
    private readonly heartbeat: NodeJS.Timeout,
    readonly port: number,
    /** Publishes the state now rather than at the next beat: a phase change shows at once. */
    readonly publish: () => void,
  ) {}

  static async start(
    address: { host: string; port: number; reusePort: boolean },
    state: () => { phase: ProbePhase; failure?: Error | undefined },
    onError: (error: Error) => void,
    stallMs = STALL_MS,
  ): Promise<ProbeListener> {
    const buffer = probeStateBuffer();
    const shared = new BigInt64Array(buffer);
    let reportedFailure = false;
    // The first beat below runs before the thread can answer anything: it never reads an empty state.
    const worker = new Worker(workerUrl, { workerData: { state: buffer, ...address, stallMs } satisfies ProbeWorkerData });
    const beat = (): void => {
      const { phase, failure } = state();
      Atomics.store(shared, HEARTBEAT, BigInt(Date.now()));
      Atomics.store(shared, PHASE, BigInt(PHASES.indexOf(phase)));
      if (failure && !reportedFailure) {
        reportedFailure = true;
        worker.postMessage({ type: 'failure', error: failure.message } satisfies ToProbeWorker);
      }
    };
    beat();
    const heartbeat = setInterval(beat, HEARTBEAT_MS);
    heartbeat.unref();
    const port = await new Promise<number>((resolve, reject) => {
      worker.on('message', (message: FromProbeWorker) => {
        if (message.type === 'listening') resolve(message.port);
        else reject(Object.assign(new Error(message.message), { code: message.code }));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the probe listener's thread exited with ${code}`)));
    }).catch(async (error: unknown) => {
      clearInterval(heartbeat);
      await worker.terminate();
      throw error;
    });
    // Once serving, a dead probe thread means refused probes: the kubelet restarts the pod, and the log says why.
    worker.removeAllListeners();
    worker.on('error', onError);
    worker.on('message', (message: FromProbeWorker) => {
      if (message.type === 'error') onError(new Error(`probe listener: ${message.message}`));
    });
    // Neither keeps the process alive on its own: the serving port does.
    worker.unref();
    return new ProbeListener(worker, heartbeat, port, beat);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.worker.terminate();
  }
}
