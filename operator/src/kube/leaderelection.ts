import { setTimeout as sleep } from 'node:timers/promises';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { resourcePath, type KubeClient } from './client.js';
import { classify, Failure, loggable } from './errors.js';

export interface LeaderElectionConfig {
  namespace: string;
  leaseName: string;
  identity: string;
  /** How long others wait, after last seeing the lease change, before taking it over. */
  leaseDurationMs: number;
  /** How long the leader keeps failing to renew before it gives up; below leaseDurationMs, so it stops before anyone else starts. */
  renewDeadlineMs: number;
  /** Pause between attempts to acquire or renew. */
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  /** Leadership won; `term` aborts the moment it is lost, which must stop all writes at once. */
  onStartedLeading(term: AbortSignal): void;
  /** Leadership over, lost or given up on shutdown; awaited before the lease is released. */
  onStoppedLeading(): Promise<void>;
}

type Attempt = 'ok' | 'held' | 'error';

/** coordination.k8s.io/v1 Lease as it travels: the times are MicroTime strings. */
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: LeaseSpec;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Now as a metav1.MicroTime, which wants exactly six fractional digits. */
const microTimeNow = (): string => new Date().toISOString().replace(/Z$/, '000Z');

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the algorithm of client-go's leaderelection:
 * take the lease when its holder has not renewed it for its duration as measured by our own clock
 * (so clock skew between nodes does not matter), renew every retry period, and every update is
 * guarded by resourceVersion, so two candidates never both win.
 */
export class LeaderElector {
  private readonly leases: string;
  private readonly lease: string;
  private observed?: { record: string; at: number };

  constructor(private readonly client: KubeClient, private readonly cfg: LeaderElectionConfig, private readonly log: Logger) {
    this.leases = resourcePath('coordination.k8s.io/v1', 'leases', cfg.namespace);
    this.lease = resourcePath('coordination.k8s.io/v1', 'leases', cfg.namespace, cfg.leaseName);
  }

  /** Campaigns, leads and campaigns again after a loss, until `signal` aborts; then releases the lease if held. */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    const lease = `${this.cfg.namespace}/${this.cfg.leaseName}`;
    while (await this.acquire(signal)) {
      this.log.info({ lease }, 'became leader');
      const term = new AbortController();
      callbacks.onStartedLeading(term.signal);
      const lost = await this.renewUntilLost(signal);
      if (lost) {
        this.log.warn({ lease }, 'lost leadership; stopping the controller');
        term.abort();
      }
      await callbacks.onStoppedLeading();
      term.abort();
      if (!lost) {
        await this.release();
        this.log.info({ lease }, 'released the lease');
        return;
      }
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if ((await this.tryAcquireOrRenew()) === 'ok') return true;
      await pause(this.cfg.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    return false;
  }

  /** true when leadership was lost, false when `signal` asked us to step down. */
  private async renewUntilLost(signal: AbortSignal): Promise<boolean> {
    let renewed = Date.now();
    for (;;) {
      await pause(this.cfg.retryPeriodMs, signal);
      if (signal.aborted) return false;
      const attempt = await this.tryAcquireOrRenew();
      if (attempt === 'ok') renewed = Date.now();
      else if (attempt === 'held' || Date.now() - renewed > this.cfg.renewDeadlineMs) return true;
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { namespace, leaseName: name, identity } = this.cfg;
    const now = microTimeNow();
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>('GET', this.lease);
    } catch (err) {
      if (classify(err) !== Failure.NotFound) return this.failed(err);
      try {
        await this.client.send('POST', this.leases, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: this.spec(now, now, 0) } });
        return 'ok';
      } catch (createErr) {
        return classify(createErr) === Failure.Conflict ? 'held' : this.failed(createErr);
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, lease.metadata?.resourceVersion]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = spec.holderIdentity;
    if (holder && holder !== identity && this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000 > Date.now()) return 'held';
    const mine = holder === identity;
    const transitions = spec.leaseTransitions ?? 0;
    const body = { ...lease, spec: this.spec(mine ? (spec.acquireTime ?? now) : now, now, mine ? transitions : transitions + 1) };
    try {
      await this.client.send('PUT', this.lease, { body });
      return 'ok';
    } catch (err) {
      // A conflict means someone else wrote first; the next read shows who holds it.
      return this.failed(err);
    }
  }

  /** Hands the lease over at once instead of making the successor wait out its duration. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>('GET', this.lease);
      if (lease.spec?.holderIdentity !== this.cfg.identity) return;
      const now = microTimeNow();
      const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      await this.client.send('PUT', this.lease, { body: { ...lease, spec } });
    } catch (err) {
      this.log.warn({ err: loggable(err) }, 'could not release the lease; the next leader waits for it to expire');
    }
  }

  private spec(acquireTime: string, renewTime: string, leaseTransitions: number): LeaseSpec {
    return {
      holderIdentity: this.cfg.identity,
      leaseDurationSeconds: Math.ceil(this.cfg.leaseDurationMs / 1000),
      acquireTime, renewTime, leaseTransitions,
    };
  }

  private failed(err: unknown): Attempt {
    this.log.debug({ err: loggable(err) }, 'lease update failed');
    return 'error';
  }
}


async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
