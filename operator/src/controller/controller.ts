import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KIND } from '../api/v1alpha1/index.js';
import type { KubeClient } from '../kube/client.js';
import { classify, Failure, loggable } from '../kube/errors.js';
import { EventRecorder } from '../kube/events.js';
import { KubeWriter } from '../kube/writer.js';
import type { OperatorMetrics } from '../metrics.js';
import { ownerKey, type Caches } from './informers.js';
import { Reconciler, type ReconcilerDeps } from './reconciler.js';
import { WorkQueue, type WorkQueueOptions } from './workqueue.js';

/** Longest retry of a model while the apiserver does not answer, as the informers' (kube/informer.ts). */
const UNREACHABLE_RETRY_MS = 5000;

export interface ControllerOptions {
  client: KubeClient;
  caches: Caches;
  metrics: OperatorMetrics;
  log: Logger;
  cluster: ReconcilerDeps['cluster'];
  canaryFigures: ReconcilerDeps['canaryFigures'];
  identity: string;
  workers: number;
  /** Every this often all models are queued again; 0 turns it off. */
  resyncMs: number;
  backoff: WorkQueueOptions;
}

/**
 * The controller for one leadership term: a work queue fed by the informers, `workers` loops
 * reconciling distinct keys, and a periodic full resync. A new term builds a new one, so nothing
 * remembered under a previous leader (which may be stale) carries over.
 */
export class Controller {
  private readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly workers: Promise<void>[] = [];
  private resync?: NodeJS.Timeout;

  constructor(private readonly opts: ControllerOptions, private readonly term: AbortSignal) {
    this.queue = new WorkQueue(opts.backoff);
    const writer = new KubeWriter(opts.client, opts.metrics, term);
    const events = new EventRecorder(writer, opts.identity, opts.log);
    this.reconciler = new Reconciler({
      caches: opts.caches, writer, events, metrics: opts.metrics, cluster: opts.cluster, log: opts.log, clock: Date.now, canaryFigures: opts.canaryFigures,
    });
    opts.metrics.setQueueDepthSource(() => this.queue.length);
    term.addEventListener('abort', () => this.queue.shutDown(), { once: true });
  }

  start(): void {
    this.resyncAll();
    if (this.opts.resyncMs > 0) this.resync = setInterval(() => this.resyncAll(), this.opts.resyncMs);
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for the reconciles in flight to finish. */
  async stop(): Promise<void> {
    clearInterval(this.resync);
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  /** An informer saw a change: queue the owning model's key; the reconcile re-reads everything from the caches. */
  onChange(kind: string, obj: KubernetesObject, deleted: boolean): void {
    const key = ownerKey(kind, obj);
    if (!key) return;
    if (deleted && kind !== KIND && kind !== 'Pod') this.reconciler.childDeleted(key, kind, obj.metadata?.name ?? '');
    this.queue.add(key);
  }

  private resyncAll(): void {
    for (const model of this.opts.caches.models.list()) this.queue.add(`${model.metadata.namespace}/${model.metadata.name}`);
  }

  private async work(): Promise<void> {
    const { metrics, log } = this.opts;
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        const lookAgainMs = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (lookAgainMs !== undefined) this.queue.addAfter(key, lookAgainMs);
        metrics.reconciles.inc({ result: 'success' });
      } catch (err) {
        const failure = classify(err);
        if (failure === Failure.LeadershipLost || this.term.aborted) {
          metrics.reconciles.inc({ result: 'aborted' });
        } else if (failure === Failure.Conflict) {
          metrics.reconciles.inc({ result: 'conflict' });
          this.queue.addRateLimited(key);
        } else {
          metrics.reconciles.inc({ result: 'error' });
          metrics.reconcileErrors.inc();
          // An apiserver that is away fails every model alike and says nothing about this one:
          // backing off per model would leave models waiting up to a minute after it is back
          // (a 20 s outage took 6-7 failures each, so 16-32 s retries).
          const retryInMs = this.queue.addRateLimited(key, failure === Failure.Unreachable ? UNREACHABLE_RETRY_MS : undefined);
          log.warn({ model: key, retryInMs, err: loggable(err) }, 'reconcile failed; retrying with backoff');
        }
      } finally {
        stopTimer();
        this.queue.done(key);
      }
    }
  }
}
