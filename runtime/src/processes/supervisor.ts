import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { pino, type Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { METRICS_REPLY, METRICS_REQUEST, PORT_ENV, WORKER_READY, type Message } from './messages.js';

// One Node event loop tops out at a few thousand HTTP requests per second, far below what a GPU
// batch can classify, so `server.processes` runs several full servers (session, batcher, queue)
// on one port. The primary only supervises: it forks, aggregates metrics, relays signals.
// Each process binds the port itself with SO_REUSEPORT and the kernel spreads connections over
// them: with Node's default round-robin the primary hands every connection over IPC, and one
// handed to a process that has just died is never answered (seen in the crash test).

/** More crashes than this within the window means the pod is broken: exit and let the kubelet restart it. */
const CRASH_LIMIT = 3;
const CRASH_WINDOW_MS = 60_000;

/** Runs in the primary until every worker has exited; resolves with the exit code to use. */
export async function superviseServingProcesses(config: RuntimeConfig): Promise<number> {
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
