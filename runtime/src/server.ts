import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { Admission } from './http/access.js';
import { BearerTokens } from './http/bearer-tokens.js';
import type { ServingContext } from './http/context.js';
import { explainListenError } from '#contract/listen-error.js';
import { Lifecycle } from './lifecycle.js';
import { RuntimeMetrics } from './metrics.js';
import { loadModel } from './model/load.js';
import type { LoadedModel } from './model/served-model.js';
import { isServingProcess, joinSupervisor } from './processes/serving-process.js';
import { StreamConsumer } from './stream/consumer.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Resolves once the model is loaded and the server reports ready. */
  loaded: Promise<void>;
  /** SIGTERM behaviour: unready at once, keep serving through the drain delay, finish everything, close. */
  drain(): Promise<void>;
}

const LISTEN_SETTINGS = { host: 'server.host (--server.host, SENTIMENT_SERVER_HOST)', port: 'server.port (--server.port, SENTIMENT_SERVER_PORT)' };

/**
 * Listens first and loads the model after, so liveness answers during a slow load while
 * readiness stays false until the warm-up batch has run.
 */
export async function startServer(config: RuntimeConfig): Promise<RunningServer> {
  const lifecycle = new Lifecycle();
  const metrics = new RuntimeMetrics();
  metrics.queueCapacity.set(config.batching.maxQueue);
  const supervisor = isServingProcess() ? joinSupervisor(metrics.registry) : undefined;
  const exposition = supervisor ? supervisor.metrics : () => metrics.registry.metrics();
  const tokens = config.auth.tokenFile === undefined ? undefined : BearerTokens.load(config.auth.tokenFile);
  const context: ServingContext = { config, lifecycle, metrics, exposition, tokens, admission: Admission.forConfig(config) };
  const app = buildApp(context);
  if (tokens) {
    const stopWatching = tokens.watch((error) => app.log.warn({ err: error }, 'cannot re-read auth.tokenFile; the tokens read before stay in use'));
    app.addHook('onClose', async () => stopWatching());
  }
  const address = { host: config.server.host, port: supervisor?.port ?? config.server.port };
  const url = await app
    .listen(
      supervisor
        ? // fastify hands these to net.Server.listen, whose reusePort its own types do not list yet.
          ({ ...address, exclusive: true, reusePort: true } as typeof address)
        : address,
    )
    .catch((error: unknown) => {
      throw explainListenError(error, address, LISTEN_SETTINGS);
    });

  let model: LoadedModel | undefined;
  let stream: StreamConsumer | undefined;
  const loaded = loadModel(config, metrics, app.log).then(
    (loadedModel) => {
      model = loadedModel;
      context.model = loadedModel;
      if (config.stream.bootstrapServers) {
        // Each serving process is its own group member: it feeds its own batcher.
        metrics.startStream();
        stream = new StreamConsumer({ config, model: loadedModel, observer: metrics, log: app.log, clientId: `${config.model.name}-${hostname()}-${process.pid}` });
      }
      lifecycle.markReady();
      metrics.ready.set(1);
      if (supervisor) {
        // The supervisor logs "ready" once every serving process is.
        app.log.info({ url }, 'worker ready');
        supervisor.ready(url);
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
      // The stream stops fetching at once and delivers what it holds while HTTP serves out the delay.
      await Promise.all([stream?.stop(), new Promise((resolve) => setTimeout(resolve, config.server.drainDelayMs))]);
      await app.close();
      await model?.idle();
      await model?.close();
      app.log.info('drained');
    })();
    return draining;
  };
  return { app, url, loaded, drain };
}
