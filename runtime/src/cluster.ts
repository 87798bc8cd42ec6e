import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { pino, type Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { RuntimeConfig } from '#contract/runtime-config.js';

// One Node event loop tops out at a few thousand HTTP requests per second, far below what a GPU
// batch can classify, so `server.processes` runs several full servers (session, batcher, queue)
// on one port. The primary only supervises: it forks, aggregates metrics, relays signals.
// Each process binds the port itself with SO_REUSEPORT and the kernel spreads connections over
// them: with Node's default round-robin the primary hands every connection over IPC, and one
// handed to a process that has just died is never answered (seen in the crash test).

const METRICS_REQUEST = 'sentiment-runtime:metrics';
const METRICS_REPLY = 'sentiment-runtime:metrics-reply';
const WORKER_READY = 'sentiment-runtime:ready';
/** The port every serving process binds, resolved by the primary when server.port is 0. */
const PORT_ENV = 'SENTIMENT_PROCESS_PORT';
const METRICS_TIMEOUT_MS = 5_000;
/** More crashes than this within the window means the pod is broken: exit and let the kubelet restart it. */
const CRASH_LIMIT = 3;
const CRASH_WINDOW_MS = 60_000;

type Message = { type: typeof METRICS_REQUEST; id: number } | { type: typeof METRICS_REPLY; id: number; text?: string; error?: string } | { type: typeof WORKER_READY; url: string };

export const isServingWorker = (): boolean => cluster.isWorker;

/** Runs in the primary until every worker has exited; resolves with the exit code to use. */
export async function superviseWorkers(config: RuntimeConfig): Promise<number> {
  const log: Logger = pino({ level: config.logging.level, base: { pid: process.pid, role: 'primary' } });
  const aggregator = new AggregatorRegistry();
  const wanted = config.server.processes;
  const readyWorkers = new Set<number>();
  const crashes: number[] = [];
  let everyoneReady = false;
  let stopping = false;
  let exitCode = 0;
  const port = config.server.port === 0 ? await freePort(config.server.host) : config.server.port;

  return new Promise<number>((resolve) => {
    const fork = (): Worker => cluster.fork({ [PORT_ENV]: String(port) });
    const stopAll = (code: number): void => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      // Each worker enforces shutdownTimeoutMs on its own drain; this only catches a wedged one.
      setTimeout(() => {
        log.error('workers did not exit after the shutdown timeout; killing them');
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      }, config.server.shutdownTimeoutMs + 5_000).unref();
    };

    cluster.on('message', (worker, message: Message) => {
      if (message.type === WORKER_READY) {
        readyWorkers.add(worker.id);
        if (!everyoneReady && readyWorkers.size === wanted) {
          everyoneReady = true;
          log.info({ url: message.url, processes: wanted }, 'ready');
        }
      } else if (message.type === METRICS_REQUEST) {
        aggregator.clusterMetrics().then(
          (text) => worker.send({ type: METRICS_REPLY, id: message.id, text } satisfies Message),
          (error: unknown) => worker.send({ type: METRICS_REPLY, id: message.id, error: (error as Error).message } satisfies Message),
        );
      }
    });

    cluster.on('exit', (worker, code, signal) => {
      const wasReady = readyWorkers.delete(worker.id);
      if (!stopping) {
        if (!wasReady) {
          // The worker printed why (bad model, bad config); its siblings would fail the same way.
          log.error({ worker: worker.process.pid, code, signal }, 'worker failed before it was ready; stopping');
          stopAll(code || 1);
        } else {
          const now = Date.now();
          crashes.push(now);
          while (crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
          if (crashes.length > CRASH_LIMIT) {
            log.error({ crashes: crashes.length, windowMs: CRASH_WINDOW_MS }, 'workers keep crashing; stopping');
            stopAll(1);
          } else {
            log.warn({ worker: worker.process.pid, code, signal }, 'worker died; starting a replacement');
            fork();
          }
        }
      } else if (code !== 0 && exitCode === 0) {
        exitCode = code ?? 1;
      }
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) resolve(exitCode);
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        log.info({ signal }, 'shutting down workers');
        stopAll(0);
      });
    }
    log.info({ processes: wanted }, 'starting serving processes');
    for (let i = 0; i < wanted; i++) fork();
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0 }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** In a worker: let the primary's aggregator read this registry, and tell it when serving starts. */
export function joinCluster(registry: Registry): { port: number; ready(url: string): void; metrics(): Promise<string> } {
  AggregatorRegistry.setRegistries([registry]);
  // prom-client installs a worker's answering listener only when an AggregatorRegistry is built.
  new AggregatorRegistry();
  let nextId = 0;
  const pending = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  process.on('message', (message: Message) => {
    if (message.type !== METRICS_REPLY) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.text !== undefined) waiter?.resolve(message.text);
    else waiter?.reject(new Error(`metrics aggregation failed: ${message.error}`));
  });
  return {
    port: Number(process.env[PORT_ENV]),
    ready: (url) => process.send!({ type: WORKER_READY, url } satisfies Message),
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the primary process did not answer the metrics request'));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, {
          resolve: (text) => (clearTimeout(timer), resolve(text)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        process.send!({ type: METRICS_REQUEST, id } satisfies Message);
      }),
  };
}
