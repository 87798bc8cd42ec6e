import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { explainListenError } from '#contract/listen-error.js';
import { KubeClient } from '../../operator/src/kube/client.js';
import type { KubeAccess } from '../../operator/src/kube/config.js';
import { Activator } from './activator.js';
import { Canaries, candidateKey } from './canary/canary.js';
import { sameCanary } from './canary/view.js';
import type { RouterConfig } from './config.js';
import { envName } from './config.js';
import { endpointAddress, type EndpointAddress } from './discovery/catalog.js';
import { Discovery } from './discovery/discovery.js';
import { Holds } from './hold.js';
import { buildApp } from './http/app.js';
import { RouterError } from './http/errors.js';
import { RouterMetrics } from './metrics.js';
import { Upstreams } from './upstreams.js';

export interface Router {
  port: number;
  /** Settles once the router has drained after `signal` aborted. */
  done: Promise<void>;
}

/** Seams for tests; production leaves them at their defaults. */
export interface RouterOptions {
  /** Where a ready endpoint is reached; by default its address and port from the EndpointSlice. */
  endpointAddress?: EndpointAddress;
}

const LISTEN_SETTINGS = { host: `--http-host (${envName('http-host')})`, port: `--http-port (${envName('http-port')})` };

/**
 * The whole router: discovery (SentimentModels and their EndpointSlices), a connection pool per
 * ready pod, holds and the activator for models without a ready pod, and the HTTP server.
 * Returns once it listens; ready once the caches are synced. Aborting `signal` drains it:
 * unready at once, serving for drain.delayMs while endpoints update, then closing once the
 * requests in flight (held ones included) are answered.
 */
export async function run(signal: AbortSignal, access: KubeAccess, cfg: RouterConfig, opts: RouterOptions = {}): Promise<Router> {
  const log: Logger = pino({ level: cfg.logLevel });
  const client = new KubeClient(access);
  const metrics = new RouterMetrics();
  const discovery = new Discovery(client, cfg.namespaces, opts.endpointAddress ?? endpointAddress, log);
  const upstreams = new Upstreams(cfg.upstream);
  const holds = new Holds(cfg.hold);
  const activator = new Activator(client, metrics, log, cfg.hold.timeoutMs);
  const canaries = new Canaries(cfg.canary.maxCopiesInFlight);
  let draining = false;

  discovery.onRouteChange((before, now) => {
    const model = now ?? before!;
    const key = `${model.namespace}/${model.name}`;
    const labels = { namespace: model.namespace, model: model.name };
    // Pools first: the requests released below pick from them at once.
    upstreams.update(key, now?.ready ?? []);
    upstreams.update(candidateKey(model), now?.canary?.ready ?? []);
    if (!sameCanary(before?.canary, now?.canary)) canaries.forget(model);
    if (!now) {
      metrics.readyEndpoints.remove(labels);
      activator.forget(model.uid);
      holds.fail(key, new RouterError('NotFound', `model ${key} was deleted`));
      return;
    }
    metrics.readyEndpoints.set(labels, now.ready.length);
    if (now.ready.length > 0) {
      holds.release(key);
      void activator.ready(now);
    }
  });

  const app = buildApp({
    catalog: discovery.catalog, canaries, upstreams, holds, metrics,
    wake: (model) => void activator.wake(model),
    bodyLimitBytes: cfg.http.bodyLimitBytes, logLevel: cfg.logLevel,
    ready: () => discovery.isSynced && !draining,
    synced: () => discovery.isSynced,
  }, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
  discovery.start();
  try {
    await app.listen({ host: cfg.http.host, port: cfg.http.port });
  } catch (error) {
    await discovery.stop();
    client.close();
    throw explainListenError(error, cfg.http, LISTEN_SETTINGS);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.http.port;
  log.info({ port, namespaces: cfg.namespaces.length > 0 ? cfg.namespaces : 'all' }, 'router started');

  const done = (async () => {
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    draining = true;
    log.info({ delayMs: cfg.drain.delayMs }, 'draining');
    await sleep(cfg.drain.delayMs);
    await app.close();
    await discovery.stop();
    await upstreams.close();
    client.close();
    log.info('router stopped');
  })();
  return { port, done };
}
