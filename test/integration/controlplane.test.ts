// Proves the integration-test control plane behaves like a cluster: real scheduler, controllers,
// garbage collector, admission, and kwok nodes whose pods become Running and Ready.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, VersionApi, type V1ConfigMap, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { cpuNode, gpuNode, startControlPlane, K8S_VERSION, type ControlPlane } from '../support/controlplane.js';
import {
  applyObject, createNamespace, errorText, isPodReady, listEvents, listPods, readObject, deleteObject,
  waitFor, waitForDeploymentAvailable,
} from '../support/kube.js';

const ns = 'harness';
const cpuNodes = ['cpu-1', 'cpu-2'];

function pod(name: string, gpus: number, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
    spec: {
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      ...extra,
    },
  };
}

describe('integration control plane', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;

  beforeAll(async () => {
    const t0 = Date.now();
    cp = await startControlPlane({
      scheduler: true, controllerManager: true, kwok: true,
      nodes: [...cpuNodes.map((n) => cpuNode(n)), gpuNode('gpu-1', { gpus: 2, mig: { '1g.10gb': 7 } })],
    });
    console.log(`control plane up in ${Date.now() - t0} ms at ${cp.server}`);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await createNamespace(cp.kubeConfig, ns);
  });
  afterAll(async () => { await cp?.stop(); });

  it(`serves Kubernetes ${K8S_VERSION}`, async () => {
    const v = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toBe(K8S_VERSION);
  });

  it('publishes GPU and MIG resources on the GPU node', async () => {
    const node = await core.readNode({ name: 'gpu-1' });
    expect(node.status?.allocatable).toMatchObject({ 'nvidia.com/gpu': '2', 'nvidia.com/mig-1g.10gb': '7' });
    expect(node.metadata?.labels).toMatchObject({ 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', type: 'kwok' });
    expect(node.spec?.taints).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' }));
  });

  it('schedules a Deployment onto CPU nodes and reports it Available', async () => {
    await applyObject<V1Deployment>(cp.kubeConfig, {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } },
      },
    });
    const d = await waitForDeploymentAvailable(cp.kubeConfig, ns, 'web', 2);
    expect(d.status?.readyReplicas).toBe(2);
    const pods = await listPods(cp.kubeConfig, ns, 'app=web');
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(cpuNodes).toContain(p.spec?.nodeName);
      expect(p.status?.phase).toBe('Running');
      expect(isPodReady(p)).toBe(true);
    }
  });

  it('puts a pod requesting nvidia.com/gpu on the GPU node only', async () => {
    await applyObject(cp.kubeConfig, pod('gpu-one', 1));
    const p = await waitFor(async () => {
      const live = await core.readNamespacedPod({ name: 'gpu-one', namespace: ns });
      return isPodReady(live) && live;
    }, 30_000, 'GPU pod not Ready');
    expect(p.spec?.nodeName).toBe('gpu-1');
  });

  it('leaves a pod asking for more GPUs than exist Pending with FailedScheduling', async () => {
    await applyObject(cp.kubeConfig, pod('gpu-greedy', 3));
    const events = await waitFor(async () => {
      const evs = await listEvents(cp.kubeConfig, ns, 'gpu-greedy', 'FailedScheduling');
      return evs.length > 0 && evs;
    }, 30_000, 'no FailedScheduling event');
    expect(events.map((e) => e.message).join('\n')).toMatch(/Insufficient nvidia\.com\/gpu/);
    const live = await core.readNamespacedPod({ name: 'gpu-greedy', namespace: ns });
    expect(live.status?.phase).toBe('Pending');
    expect(live.spec?.nodeName).toBeUndefined();
  });

  it('garbage-collects dependents of a deleted owner', async () => {
    const owner = await applyObject<V1ConfigMap>(cp.kubeConfig, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: ns } });
    const ownerRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' };
    const dependent = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dependent', namespace: ns, ownerReferences: [ownerRef] } };
    await applyObject(cp.kubeConfig, dependent);
    await deleteObject(cp.kubeConfig, owner);
    await waitFor(async () => (await readObject(cp.kubeConfig, { ...dependent, name: 'dependent', namespace: ns })) === undefined,
      30_000, 'dependent ConfigMap was not garbage-collected');
  });

  it('authorizes ServiceAccounts with RBAC', async () => {
    await applyObject(cp.kubeConfig, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: ns } });
    const asReader = (await cp.serviceAccountKubeConfig(ns, 'reader')).makeApiClient(CoreV1Api);
    const denied = await asReader.listNamespacedPod({ namespace: ns }).then(() => undefined, (e: unknown) => e);
    expect(errorText(denied)).toMatch(/HTTP 403: .*system:serviceaccount:harness:reader/);
    await applyObject(cp.kubeConfig, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reader-view', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
    });
    await waitFor(() => asReader.listNamespacedPod({ namespace: ns }), 10_000, 'RoleBinding to view did not grant list pods');
  });

  it('enforces Pod Security admission from namespace labels', async () => {
    await createNamespace(cp.kubeConfig, 'restricted', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const privileged: V1Pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priv', namespace: 'restricted' },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', securityContext: { privileged: true } }] },
    };
    const err = await applyObject(cp.kubeConfig, privileged).then(() => undefined, (e: unknown) => e);
    expect(errorText(err)).toMatch(/HTTP 403: .*violates PodSecurity "restricted:latest"/);
  });
});
