// Deleting a SentimentModel: the garbage collector in kube-controller-manager removes everything
// it owned through the owner references; the operator needs no finalizer and recreates nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, PolicyV1Api } from '@kubernetes/client-node';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, waitFor } from '../support/kube.js';
import { applyModel, deleteModel, isReady, readModel, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'delete';
const selector = 'app.kubernetes.io/managed-by=sentiment-operator';

describe('operator: deleting a SentimentModel', () => {
  let cp: ControlPlane;
  let op: RunningOperator;

  const owned = async () => {
    const [core, apps, policy] = [cp.kubeConfig.makeApiClient(CoreV1Api), cp.kubeConfig.makeApiClient(AppsV1Api), cp.kubeConfig.makeApiClient(PolicyV1Api)];
    const lists = await Promise.all([
      core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector }),
      apps.listNamespacedDeployment({ namespace: ns, labelSelector: selector }),
      apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: selector }),
      core.listNamespacedPod({ namespace: ns, labelSelector: selector }),
      core.listNamespacedService({ namespace: ns, labelSelector: selector }),
      policy.listNamespacedPodDisruptionBudget({ namespace: ns, labelSelector: selector }),
    ]);
    return lists.flatMap((l) => l.items.map((o) => `${o.kind ?? ''}${o.metadata?.name}`));
  };

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1')] });
    await createNamespace(cp.kubeConfig, ns);
    // A resync every second keeps the queue moving, so the test can wait for reconciles to have happened.
    op = await startOperator(cp.kubeConfig, { resyncSeconds: 1 });
    await applyModel(cp.kubeConfig, ns, 'doomed', { replicas: 2 });
    await applyModel(cp.kubeConfig, ns, 'kept');
    await Promise.all(['doomed', 'kept'].map((name) => waitForModel(cp.kubeConfig, ns, name, isReady)));
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('garbage-collects the ConfigMap, Deployment, ReplicaSet, pods, Service and PDB', async () => {
    const all = await owned();
    expect(all.filter((n) => n.includes('doomed'))).toHaveLength(7); // CM, Deployment, RS, 2 pods, Service, PDB
    await deleteModel(cp.kubeConfig, ns, 'doomed');
    await waitFor(async () => (await readModel(cp.kubeConfig, ns, 'doomed')) === undefined, 10_000, 'model not deleted');
    let left: string[] = [];
    await waitFor(async () => {
      left = (await owned()).filter((n) => n.includes('doomed'));
      return left.length === 0;
    }, 30_000, () => `children left: ${left.join(', ')}`);
  });

  it('recreates nothing and leaves the other model alone', async () => {
    // Fences instead of a pause: the operator's caches have seen every child of the deleted model
    // go (each deletion queued the model's key), and it has reconciled three keys since.
    const cached = (cache: string) => op.metric('sentiment_operator_cached_objects', { cache });
    const caches = ['models', 'configMaps', 'deployments', 'services', 'pdbs', 'pods'];
    let counts: number[] = [];
    await waitFor(async () => {
      counts = await Promise.all(caches.map(cached));
      return counts.every((n) => n === 1);
    }, 10_000, () => `the operator's caches still hold the deleted model's objects: ${caches.map((c, i) => `${c} ${counts[i]}`).join(', ')}`);
    const reconciles = () => op.metric('sentiment_operator_reconcile_total');
    const since = await reconciles();
    await waitFor(async () => (await reconciles()) >= since + 3, 10_000, 'the operator stopped reconciling');
    const all = await owned();
    expect(all.filter((n) => n.includes('doomed'))).toEqual([]);
    expect(all.filter((n) => n.includes('kept'))).toHaveLength(6);
    expect(isReady((await readModel(cp.kubeConfig, ns, 'kept'))!)).toBe(true);
    expect(await op.metric('sentiment_operator_reconcile_errors_total')).toBe(0);
  });
});
