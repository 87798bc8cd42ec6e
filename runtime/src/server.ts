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
import { ProbeListener } from './probes/probe-listener.js';
import { isServingProcess, joinSupervisor } from './processes/serving-process.js';
import { StreamConsumer } from './stream/consumer.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** The probe listener's base URL (server.probePort), when there is one. */
  probeUrl?: string | undefined;
  /** Resolves once the model is loaded and the server reports ready. */
  loaded: Promise<void>;
  /** SIGTERM behaviour: unready at once, keep serving through the drain delay, finish everything, close. */
  drain(): Promise<void>;
}

const LISTEN_SETTINGS = { host: 'server.host (--server.host, SENTIMENT_SERVER_HOST)', port: 'server.port (--server.port, SENTIMENT_SERVER_PORT)' };
/**
 * Connections the kernel holds for accept(). Node's default of 511 overflows when thousands of
 * clients connect at once, and Linux then drops the handshake silently (tcp_abort_on_overflow is
 * off by default): the client retries after 1 s, 3 s, 7 s, time no deadline of ours can see.
 * Measured at 3,000 requests/s open loop: 10k overflows in 10 s, answers seconds late with the
 * event loop never more than 0.5 s behind. The kernel caps it at net.core.somaxconn (4096 since
 * Linux 5.4).
 */
const LISTEN_BACKLOG = 4096;
const PROBE_LISTEN_SETTINGS = { host: LISTEN_SETTINGS.host, port: 'server.probePort (--server.probePort, SENTIMENT_SERVER_PROBE_PORT)' };

function withPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.origin;
}

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
    .listen({
      ...(supervisor
        ? // fastify hands these to net.Server.listen, whose reusePort its own types do not list yet.
          ({ ...address, exclusive: true, reusePort: true } as typeof address)
        : address),
      backlog: LISTEN_BACKLOG,
    })
    .catch((error: unknown) => {
      throw explainListenError(error, address, LISTEN_SETTINGS);
    });

  let model: LoadedModel | undefined;
  const probeAddress = config.server.probePort === undefined ? undefined : { host: config.server.host, port: config.server.probePort };
  const probes =
    probeAddress &&
    (await ProbeListener.start(
      // Serving processes share the probe port as they share the serving port: any of them may answer.
      { ...probeAddress, reusePort: supervisor !== undefined },
      () => {
        const failure = model?.failure();
        return { phase: failure ? 'failed' : lifecycle.phase, failure };
      },
      (error) => app.log.error({ err: error }, 'the probe listener failed; the kubelet\'s probes will fail'),
    ).catch(async (error: unknown) => {
      await app.close();
      throw explainListenError(error, probeAddress, PROBE_LISTEN_SETTINGS);
    }));
  const probeUrl = probes && withPort(url, probes.port);
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
      probes?.publish();
      metrics.ready.set(1);
      if (supervisor) {
        // The supervisor logs "ready" once every serving process is.
        app.log.info({ url, probeUrl }, 'worker ready');
        supervisor.ready(url);
      } else app.log.info({ url, probeUrl }, 'ready');
    },
    async (error: unknown) => {
      lifecycle.markFailed();
      await Promise.all([app.close(), probes?.close()]);
      throw error;
    },
  );

  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      lifecycle.markDraining();
      probes?.publish();
      metrics.ready.set(0);
      app.log.info({ drainDelayMs: config.server.drainDelayMs }, 'draining: not ready, still serving until endpoints update');
      // The stream stops fetching at once and delivers what it holds while HTTP serves out the delay.
      await Promise.all([stream?.stop(), new Promise((resolve) => setTimeout(resolve, config.server.drainDelayMs))]);
      await app.close();
      await model?.idle();
      await model?.close();
      await probes?.close();
      app.log.info('drained');
    })();
    return draining;
  };
  return { app, url, probeUrl, loaded, drain };
}
