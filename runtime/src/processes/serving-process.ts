import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { METRICS_REPLY, METRICS_REQUEST, PORT_ENV, WORKER_READY, type Message } from './messages.js';

const METRICS_TIMEOUT_MS = 5_000;

/** True in a process the supervisor forked to serve (see supervisor.ts). */
export const isServingProcess = (): boolean => cluster.isWorker;

/** In a serving process: let the supervisor's aggregator read this registry, and tell it when serving starts. */
export function joinSupervisor(registry: Registry): { port: number; ready(url: string): void; metrics(): Promise<string> } {
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
