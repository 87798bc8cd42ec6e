import { once } from 'node:events';
import { pino, type Logger } from 'pino';
import { Collector, podAddress, type PodAddress } from './autoscaler/collector.js';
import { AutoscalerLoop } from './autoscaler/loop.js';
import type { OperatorConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { makeCaches } from './controller/informers.js';
import { startHttpServer } from './http.js';
import { KafkaLagReader } from './kafka/lag.js';
import type { V1PodList } from '@kubernetes/client-node';
import { CanaryScraper } from './canary/scrape.js';
import { KubeClient, resourcePath } from './kube/client.js';
import type { KubeAccess } from './kube/config.js';
import { EventRecorder } from './kube/events.js';
import { LeaderElector } from './kube/leaderelection.js';
import { readSecretData } from './kube/secrets.js';
import { KubeWriter } from './kube/writer.js';
import { OperatorMetrics } from './metrics.js';

export interface Operator {
  /** Where /healthz, /readyz and /metrics listen; the real port when cfg.http.port is 0. */
  port: number;
  /** Settles once the operator has shut down after `signal` aborted. */
  done: Promise<void>;
}

/** A broker request or connection slower than this counts as a failed lag read; loaded brokers answer admin requests well within it. */
const KAFKA_TIMEOUT_MS = 5000;

/** Models analyzed in the same moment share one scrape of the routers. */
const CANARY_SCRAPE_MAX_AGE_MS = 1000;

/** Seams for tests; production leaves them at their defaults. */
export interface RunOptions {
  /** Where the autoscaler scrapes a pod; by default its pod IP on the runtime port. */
  podAddress?: PodAddress;
  /** Where the canary scrape reads a router pod's /metrics; by default its pod IP on --canary-router-port. */
  routerAddress?: PodAddress;
}

/**
 * The whole operator: informers on the models and everything they own (started on every instance,
 * so a follower takes over with warm caches), leader election, the controller and the autoscaler while leading, and
 * the HTTP endpoints. Returns once the endpoints listen. Aborting `signal` shuts down gracefully:
 * the reconciles in flight finish, then the lease is released and the watches stop.
 */
export async function run(signal: AbortSignal, access: KubeAccess, cfg: OperatorConfig, opts: RunOptions = {}): Promise<Operator> {
  const client = new KubeClient(access);
  const log: Logger = pino({ level: cfg.logLevel, base: { identity: cfg.leaderElection.identity } });
  const metrics = new OperatorMetrics();
  let controller: Controller | undefined;
  let autoscaler: AutoscalerLoop | undefined;
  const collector = new Collector({ address: opts.podAddress ?? podAddress, timeoutMs: cfg.autoscaler.scrapeTimeoutMs });
  const lagReader = new KafkaLagReader({
    secrets: (namespace, name) => readSecretData(client, namespace, name),
    clientId: `sentiment-operator-${cfg.leaderElection.identity}`,
    // A tick waits for every model's read, so a broker that does not answer delays the others' decisions by this much at most.
    timeoutMs: KAFKA_TIMEOUT_MS,
    backoffMs: { min: 1000, max: 30_000 },
    clock: Date.now,
  });
  const canaryScraper = new CanaryScraper({
    routers: async () => (await client.request<V1PodList>('GET', resourcePath('v1', 'pods', cfg.canary.routerNamespace), { query: { labelSelector: cfg.canary.routerSelector } }))?.items ?? [],
    address: opts.routerAddress ?? ((pod) => pod.status?.podIP && `http://${pod.status.podIP.includes(':') ? `[${pod.status.podIP}]` : pod.status.podIP}:${cfg.canary.routerPort}`),
    timeoutMs: cfg.canary.scrapeTimeoutMs,
    maxAgeMs: CANARY_SCRAPE_MAX_AGE_MS,
    clock: Date.now,
  });
  const caches = makeCaches(client, cfg.namespaces, log, (kind, obj, deleted) => controller?.onChange(kind, obj, deleted));
  const watched = Object.values(caches);
  metrics.setCacheSizeSource(() => Object.fromEntries(Object.entries(caches).map(([cache, w]) => [cache, w.list().length])));
  const http = await startHttpServer(cfg.http.host, cfg.http.port, { live: () => true, ready: () => watched.every((w) => w.isSynced) }, metrics.registry);
  for (const w of watched) w.start();
  const synced = Promise.all(watched.map((w) => w.synced));
  log.info({ port: http.port, namespaces: cfg.namespaces.length > 0 ? cfg.namespaces : 'all' }, 'operator started');

  const startLeading = (term: AbortSignal) => {
    metrics.leader.set(1);
    const c = new Controller({
      client, caches, metrics, log, cluster: cfg.cluster, identity: cfg.leaderElection.identity,
      canaryFigures: (key) => canaryScraper.figures(key),
      workers: cfg.workers, resyncMs: cfg.resyncSeconds * 1000, backoff: cfg.backoff,
    }, term);
    controller = c;
    const writer = new KubeWriter(client, metrics, term);
    const a = new AutoscalerLoop({
      models: () => caches.models.list(),
      pods: (namespace) => caches.pods.list(namespace),
      sample: (pods, metric) => collector.sample(pods, metric),
      readLag: (model) => lagReader.read(model),
      forgetLag: (key) => lagReader.forget(key),
      writer, events: new EventRecorder(writer, cfg.leaderElection.identity, log), metrics, log,
      clock: Date.now, intervalMs: cfg.autoscaler.intervalMs, persistIntervalMs: cfg.autoscaler.persistIntervalSeconds * 1000,
    }, term);
    autoscaler = a;
    // Reconciling before the caches are full would take existing children for missing ones; deciding
    // before them would resume from no persisted state.
    void synced.then(() => {
      if (controller === c && !term.aborted) {
        c.start();
        a.start();
      }
    });
  };
  const stopLeading = async () => {
    const [c, a] = [controller, autoscaler];
    controller = undefined;
    autoscaler = undefined;
    metrics.leader.set(0);
    metrics.clearModelConditions();
    await Promise.all([c?.stop(), a?.stop()]);
    await lagReader.close();
  };

  const done = (async () => {
    if (cfg.leaderElection.enabled) {
      const { enabled: _, ...election } = cfg.leaderElection;
      await new LeaderElector(client, election, log).run(signal, { onStartedLeading: startLeading, onStoppedLeading: stopLeading });
    } else {
      const term = new AbortController();
      startLeading(term.signal);
      if (!signal.aborted) await once(signal, 'abort');
      await stopLeading();
      term.abort();
    }
    await Promise.all(watched.map((w) => w.stop()));
    client.close();
    http.server.closeAllConnections();
    await new Promise((resolve) => http.server.close(resolve));
    log.info('operator stopped');
  })();
  return { port: http.port, done };
}
