// Level-triggered and idempotent: a converged cluster costs no writes on resync, and an operator
// killed mid-reconcile is picked up by its successor without duplicates.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { envName } from '../../operator/src/config.js';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, waitFor } from '../support/kube.js';
import { applyModel, condition, isReady, readModel, startOperator, waitForModels, type RunningOperator } from '../support/operator.js';
import { repoRoot } from '../support/runtime.js';

const converged = (m: Parameters<typeof isReady>[0]) => isReady(m) && condition(m, 'Progressing')?.reason === 'RolloutComplete';

describe('operator: idempotence', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1', { cpu: '64', memory: '256Gi', pods: '250' })] });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  describe('a full resync of a converged cluster', () => {
    const ns = 'steady';
    let op: RunningOperator;

    beforeAll(async () => {
      await createNamespace(cp.kubeConfig, ns);
      op = await startOperator(cp.kubeConfig, { resyncSeconds: 0.5 });
      await Promise.all(['a', 'b', 'c'].map((name) => applyModel(cp.kubeConfig, ns, name, { replicas: 2 })));
      await waitForModels(cp.kubeConfig, ns, ['a', 'b', 'c'], converged);
    });
    afterAll(async () => {
      await op?.stop();
    });

    it('performs zero API writes and changes no object', async () => {
      // Let the last watch events of the rollout settle, then measure over several resyncs.
      await new Promise((r) => setTimeout(r, 1000));
      const writes = await op.writes();
      const reconciles = await op.metric('sentiment_operator_reconcile_total');
      const versions = await Promise.all(['a', 'b', 'c'].map(async (n) => (await readModel(cp.kubeConfig, ns, n))?.metadata.resourceVersion));
      await waitFor(async () => (await op.metric('sentiment_operator_reconcile_total')) >= reconciles + 4 * 3, 10_000, 'no resyncs happened');
      expect(await op.writes()).toBe(writes);
      expect(await Promise.all(['a', 'b', 'c'].map(async (n) => (await readModel(cp.kubeConfig, ns, n))?.metadata.resourceVersion))).toEqual(versions);
      expect(await op.metric('sentiment_operator_reconcile_errors_total')).toBe(0);
    });
  });

  describe('killing the operator mid-reconcile', () => {
    const ns = 'crash';
    const names = Array.from({ length: 40 }, (_, i) => `m${i}`);
    let child: ChildProcess;
    let atKill: { deployments: number; statuses: number };

    const deployments = async () => (await cp.kubeConfig.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: ns })).items;
    const statuses = async () => (await Promise.all(names.map((n) => readModel(cp.kubeConfig, ns, n)))).filter((m) => m?.status).length;

    beforeAll(async () => {
      await createNamespace(cp.kubeConfig, ns);
      await Promise.all(names.map((name) => applyModel(cp.kubeConfig, ns, name)));
      // The real process, as deployed (dist/ is built by the test global setup), configured by environment.
      const log = openSync(join(cp.dir, 'operator-killed.log'), 'a');
      child = spawn(process.execPath, [join(repoRoot, 'dist/operator/src/main.js')], {
        stdio: ['ignore', log, log],
        env: {
          ...process.env, KUBECONFIG: cp.kubeconfigPath,
          [envName('http-host')]: '127.0.0.1', [envName('http-port')]: '0', [envName('workers')]: '1', [envName('log-level')]: 'debug',
          [envName('leader-election-namespace')]: 'default', [envName('leader-election-identity')]: 'doomed-operator',
          [envName('lease-duration-ms')]: '3000', [envName('renew-deadline-ms')]: '2000', [envName('retry-period-ms')]: '250',
        },
      });
      closeSync(log);
      await waitFor(async () => (await deployments()).length >= 3, 30_000, () => `the operator created nothing:\n${readFileSync(join(cp.dir, 'operator-killed.log'), 'utf8')}`, 20);
      child.kill('SIGKILL');
      await once(child, 'exit');
      atKill = { deployments: (await deployments()).length, statuses: await statuses() };
      console.log(`killed the operator with ${atKill.deployments} of ${names.length} Deployments and ${atKill.statuses} statuses written`);
    });
    afterAll(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    it('left the work unfinished', () => {
      expect(atKill.statuses, JSON.stringify(atKill)).toBeLessThan(names.length);
    });

    it('a new operator takes over the lease after it expires and converges every model', async () => {
      const op = await startOperator(cp.kubeConfig);
      try {
        await waitForModels(cp.kubeConfig, ns, names, converged);
        expect(await op.metric('sentiment_operator_leader')).toBe(1);
      } finally {
        await op.stop();
      }
    });

    it('with exactly one of each child and one ReplicaSet per model', async () => {
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const [deps, replicaSets, pods, services, configMaps] = await Promise.all([
        deployments(),
        apps.listNamespacedReplicaSet({ namespace: ns }).then((l) => l.items),
        core.listNamespacedPod({ namespace: ns }).then((l) => l.items),
        core.listNamespacedService({ namespace: ns }).then((l) => l.items),
        core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=sentiment-operator' }).then((l) => l.items),
      ]);
      for (const list of [deps, replicaSets, pods, services, configMaps]) expect(list).toHaveLength(names.length);
      for (const d of deps) expect(d.metadata?.ownerReferences).toHaveLength(1);
      expect(new Set(replicaSets.map((rs) => rs.metadata?.ownerReferences?.[0]?.name)).size).toBe(names.length);
    });

    it('announced the children of each model at most once', async () => {
      const events = (await cp.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=Created' })).items;
      const perChild = new Map<string, number>();
      for (const e of events) perChild.set(e.involvedObject.name ?? '', (perChild.get(e.involvedObject.name ?? '') ?? 0) + (e.count ?? 1));
      expect([...perChild.entries()].filter(([, n]) => n > 1)).toEqual([]);
      expect(perChild.size).toBeLessThanOrEqual(names.length);
    });
  });
});
