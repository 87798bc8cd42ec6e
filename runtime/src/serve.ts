import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { RuntimeConfig } from './config/schema.js';
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
  const context = { config, lifecycle, metrics, service: undefined as ModelService | undefined };
  const app = buildApp(context);
  const url = await app.listen({ host: config.server.host, port: config.server.port });

  const loaded = loadModelService(config, metrics, app.log).then(
    (service) => {
      context.service = service;
      lifecycle.markReady();
      metrics.ready.set(1);
      app.log.info({ url }, 'ready');
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
