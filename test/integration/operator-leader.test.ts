// Two operator instances on one Lease: only the leader writes; a follower takes over when the
// leader stops, and a leader that loses its lease stops writing at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, isConflict, waitFor } from '../support/kube.js';
import { applyModel, isReady, readModel, scrape, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'leader';
const lease = { name: 'sentiment-operator', namespace: 'default' };

describe('operator: leader election', () => {
  let cp: ControlPlane;
  let first: RunningOperator;
  let second: RunningOperator;
  let leases: CoordinationV1Api;
  /** Read-modify-write as any lease client must: the holder renews it every few hundred ms, so a write from a stale read gets 409. */
  async function replaceLease(change: (current: V1Lease) => V1Lease): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await leases.replaceNamespacedLease({ ...lease, body: change(await leases.readNamespacedLease(lease)) });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt === 5) throw err;
      }
    }
  }
  const holder = async () => (await leases.readNamespacedLease(lease)).spec?.holderIdentity;
  const leading = (op: RunningOperator) => op.metric('sentiment_operator_leader');

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1')] });
    leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    await createNamespace(cp.kubeConfig, ns);
    first = await startOperator(cp.kubeConfig, { resyncSeconds: 1 });
    await waitFor(async () => (await leading(first)) === 1, 10_000, 'first operator never led');
    second = await startOperator(cp.kubeConfig, { resyncSeconds: 1 });
    await waitFor(async () => (await scrape(second.port, '/readyz')) === 'ok\n', 10_000, 'follower caches never synced');
  });
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await cp?.stop();
  });

  it('lets only the leader write', async () => {
    await applyModel(cp.kubeConfig, ns, 'one');
    await waitForModel(cp.kubeConfig, ns, 'one', isReady);
    expect(await holder()).toBe(first.identity);
    expect(await first.writes()).toBeGreaterThan(0);
    expect(await second.writes()).toBe(0);
    expect(await leading(second)).toBe(0);
    expect(await second.metric('sentiment_operator_reconcile_total')).toBe(0);
  });

  it('hands over to the follower when the leader stops, without rewriting converged models', async () => {
    const transitions = (await leases.readNamespacedLease(lease)).spec?.leaseTransitions ?? 0;
    const stoppedAt = Date.now();
    await first.stop();
    // The lease was released, so the follower need not wait out its duration.
    await waitFor(async () => (await holder()) === second.identity, 5_000, 'follower did not take the lease');
    expect(Date.now() - stoppedAt).toBeLessThan(3000);
    expect((await leases.readNamespacedLease(lease)).spec?.leaseTransitions).toBe(transitions + 1);
    await waitFor(async () => (await second.metric('sentiment_operator_reconcile_total', { result: 'success' })) >= 2, 10_000, 'new leader did not reconcile');
    expect(await second.writes()).toBe(0);

    await applyModel(cp.kubeConfig, ns, 'two');
    await waitForModel(cp.kubeConfig, ns, 'two', isReady);
    expect(await second.writes()).toBeGreaterThan(0);
  });

  it('stops writing at once when the lease is taken away', async () => {
    await replaceLease((current) => {
      const now = new V1MicroTime();
      return { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now } };
    });
    await waitFor(async () => (await leading(second)) === 0, 5_000, 'leader did not notice it lost the lease');
    const writes = await second.writes();

    await applyModel(cp.kubeConfig, ns, 'three');
    // The fence: the deposed instance's caches hold the new model, whose key a controller still
    // running would have queued in the same step.
    await waitFor(async () => (await second.metric('sentiment_operator_cached_objects', { cache: 'models' })) === 3, 10_000, 'the deposed operator never saw the new model');
    expect(await second.writes()).toBe(writes);
    expect((await readModel(cp.kubeConfig, ns, 'three'))?.status).toBeUndefined();

    // The intruder lets go; the operator campaigns again and catches up.
    await replaceLease((taken) => ({ ...taken, spec: { ...taken.spec, holderIdentity: '', leaseDurationSeconds: 1 } }));
    await waitForModel(cp.kubeConfig, ns, 'three', isReady);
    expect(await holder()).toBe(second.identity);
  });
});
