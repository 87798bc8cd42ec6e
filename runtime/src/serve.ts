import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { isServingWorker, joinCluster } from './cluster.js';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { Lifecycle } from './lifecycle.js';
import { RuntimeMetrics } from './metrics.js';
import { loadModelService, type ModelService } from './service.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Resolves once the model is loaded and the server reports ready. */
  loaded: Promise<void>;
  /** SIGTERM behaviour: unready at once, keep serving through the drain delay, finish everything, close. */
  drain(): Promise<void>;
}

/**
 * Listens first and loads the model after, so liveness answers during a slow load while
 * readiness stays false until the warm-up batch has run.
 */
export async function startServer(config: RuntimeConfig): Promise<RunningServer> {
  const lifecycle = new Lifecycle();
  const metrics = new RuntimeMetrics();
  metrics.queueCapacity.set(config.batching.maxQueue);
  const cluster = isServingWorker() ? joinCluster(metrics.registry) : undefined;
  const exposition = cluster ? cluster.metrics : () => metrics.registry.metrics();
  const context = { config, lifecycle, metrics, exposition, service: undefined as ModelService | undefined };
  const app = buildApp(context);
  const url = await app.listen(
    cluster
      ? // fastify hands these to net.Server.listen, whose reusePort its own types do not list yet.
        ({ host: config.server.host, port: cluster.port, exclusive: true, reusePort: true } as { host: string; port: number })
      : { host: config.server.host, port: config.server.port },
  );

  const loaded = loadModelService(config, metrics, app.log).then(
    (service) => {
      context.service = service;
      lifecycle.markReady();
      metrics.ready.set(1);
      if (cluster) {
        // The primary logs "ready" once every serving process is.
        app.log.info({ url }, 'worker ready');
        cluster.ready(url);
      } else app.log.info({ url }, 'ready');
    },
    async (error: unknown) => {
      lifecycle.markFailed();
      await app.close();
      throw error;
    },
  );

  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      lifecycle.markDraining();
      metrics.ready.set(0);
      app.log.info({ drainDelayMs: config.server.drainDelayMs }, 'draining: not ready, still serving until endpoints update');
      await new Promise((resolve) => setTimeout(resolve, config.server.drainDelayMs));
      await app.close();
      await context.service?.idle();
      await context.service?.close();
      app.log.info('drained');
    })();
    return draining;
  };
  return { app, url, loaded, drain };
}
