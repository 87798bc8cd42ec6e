import type { Logger } from 'pino';
import { API_VERSION, KIND, metaTime, PLURAL } from '../../operator/src/api/v1alpha1/index.js';
import { resourcePath, type KubeClient } from '../../operator/src/kube/client.js';
import { classify, Failure, loggable } from '../../operator/src/kube/errors.js';
import { coldStartParts, observeFirstReplica } from './cold-start.js';
import type { RoutedModel } from './discovery/catalog.js';
import type { RouterMetrics } from './metrics.js';

/** The router's field manager: it owns spec.replicas only for its 0 -> 1 writes, and status.coldStart. */
export const ROUTER_FIELD_MANAGER = 'sentiment-router';

const APPLY_PATCH = 'application/apply-patch+yaml';
const MERGE_PATCH = 'application/merge-patch+json';
/** Attempts of the read-then-write when another writer changes the scale in between. */
const ATTEMPTS = 3;

interface Scale {
  metadata?: { resourceVersion?: string };
  spec?: { replicas?: number };
}

/**
 * Scale from zero, and nothing else: for a model the builtin autoscaler may take to zero, it
 * writes spec.replicas 0 -> 1 through the scale subresource, conditional on the resourceVersion
 * it read replicas 0 at, so it can never overwrite a size someone else chose. Every other size
 * is the autoscaler's (which adopts the 1 and later takes the idle model back to 0). The router
 * replica whose write went through measures the cold start until the first replica is ready and
 * records it in status.coldStart, a field only it writes, split into the parts it can read of
 * the first replica (cold-start.ts).
 */
export class Activator {
  /**
   * Models this replica looked at waking, by uid, until a replica is ready: `woke` when its write
   * went through (then it measures the cold start), false when the scale was no longer 0 (its
   * cache lagged a write), which still spares the apiserver a read per held request.
   */
  private readonly pending = new Map<string, { startedAt: number; woke: boolean }>();

  constructor(
    private readonly client: KubeClient,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    /** A wake older than this is asked for again (the first replica never came up and the model is back at 0). */
    private readonly retryAfterMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Asks for the first replica if the model is asleep and wakeable; never throws. */
  async wake(model: RoutedModel): Promise<void> {
    const now = this.clock();
    const pending = this.pending.get(model.uid);
    if (!model.wakeable || model.replicas > 0 || (pending && now - pending.startedAt < this.retryAfterMs)) return;
    const attempt = { startedAt: now, woke: false };
    this.pending.set(model.uid, attempt);
    const labels = { namespace: model.namespace, model: model.name };
    try {
      if (await this.scaleFromZero(model)) {
        attempt.woke = true;
        this.metrics.wakes.inc(labels);
        this.log.info({ model: `${model.namespace}/${model.name}` }, 'scaled from zero to one replica');
      }
    } catch (err) {
      this.pending.delete(model.uid);
      if (classify(err) !== Failure.NotFound) this.log.warn({ model: `${model.namespace}/${model.name}`, err: loggable(err) }, 'scale from zero failed');
    }
  }

  /** The model has a ready replica: if this replica woke it, the cold start is measured and recorded. */
  async ready(model: RoutedModel): Promise<void> {
    const pending = this.pending.get(model.uid);
    this.pending.delete(model.uid);
    if (!pending?.woke) return;
    const readyAt = this.clock();
    const seconds = Math.round((readyAt - pending.startedAt) / 10) / 100;
    const labels = { namespace: model.namespace, model: model.name };
    const parts = coldStartParts({ startedAt: pending.startedAt, readyAt, ...(await observeFirstReplica(this.client, model.namespace, model.name, model.ready)) });
    this.metrics.coldStart.observe(labels, seconds);
    for (const [part, value] of Object.entries(parts)) this.metrics.coldStartParts.observe({ ...labels, part }, value);
    this.log.info({ model: `${model.namespace}/${model.name}`, seconds, parts }, 'cold start');
    try {
      await this.client.send('PATCH', resourcePath(API_VERSION, PLURAL, model.namespace, model.name, 'status'), {
        query: { fieldManager: ROUTER_FIELD_MANAGER, force: true }, contentType: APPLY_PATCH,
        body: {
          apiVersion: API_VERSION, kind: KIND, metadata: { name: model.name, namespace: model.namespace },
          status: { coldStart: { startedAt: metaTime(pending.startedAt), readyAt: metaTime(readyAt), seconds, ...(Object.keys(parts).length > 0 ? { parts } : {}) } },
        },
      });
    } catch (err) {
      this.log.warn({ model: `${model.namespace}/${model.name}`, err: loggable(err) }, 'recording the cold start in status failed');
    }
  }

  forget(uid: string): void {
    this.pending.delete(uid);
  }

  /** True when this call wrote 0 -> 1; false when the model was not at 0 any more. */
  private async scaleFromZero(model: RoutedModel): Promise<boolean> {
    const path = resourcePath(API_VERSION, PLURAL, model.namespace, model.name, 'scale');
    for (let attempt = 1; ; attempt++) {
      const scale = await this.client.request<Scale>('GET', path);
      if ((scale.spec?.replicas ?? 0) > 0) return false;
      try {
        await this.client.send('PATCH', path, {
          query: { fieldManager: ROUTER_FIELD_MANAGER }, contentType: MERGE_PATCH,
          // The resourceVersion makes the write conditional: 409 if anyone wrote since the read.
          body: { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: 1 } },
        });
        return true;
      } catch (err) {
        if (classify(err) !== Failure.Conflict || attempt >= ATTEMPTS) throw err;
      }
    }
  }
}
