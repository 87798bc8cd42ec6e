// GPU models and the real scheduler: GPU pods land only on GPU nodes (tolerating their taint,
// matching the product), and a request no node can satisfy shows up as GPUUnschedulable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, cpuNode, gpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, isPodReady, listEvents, listPods } from '../support/kube.js';
import { applyModel, condition, isReady, RUNTIME_IMAGE, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'gpu';
const A100 = 'NVIDIA-A100-SXM4-40GB';
const cuda = (gpu: Record<string, unknown>, replicas = 1) => ({ replicas, runtime: { image: RUNTIME_IMAGE, executionProvider: 'cuda' }, resources: { gpu } });
const podsOf = async (cp: ControlPlane, model: string) => listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${model}`);

describe('operator: GPU models', () => {
  let cp: ControlPlane;
  let op: RunningOperator;

  beforeAll(async () => {
    cp = await startControlPlane({
      scheduler: true, controllerManager: true,
      nodes: [cpuNode('cpu-1', { cpu: '64', memory: '256Gi' }), gpuNode('gpu-h100', { gpus: 4 }), gpuNode('gpu-a100', { gpus: 4, product: A100 })],
    });
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig);
    await Promise.all([
      applyModel(cp.kubeConfig, ns, 'any-gpu', cuda({ count: 1 }, 3)),
      applyModel(cp.kubeConfig, ns, 'on-a100', cuda({ count: 1, product: A100 })),
      applyModel(cp.kubeConfig, ns, 'too-big', cuda({ count: 8 })),
    ]);
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('places GPU pods on GPU nodes only, never on the CPU node', async () => {
    const model = await waitForModel(cp.kubeConfig, ns, 'any-gpu', (m) => isReady(m) && m.status?.readyReplicas === 3, 45_000, '3 ready replicas');
    expect(model.status?.updatedReplicas).toBe(3);
    const pods = await podsOf(cp, 'any-gpu');
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(['gpu-h100', 'gpu-a100']).toContain(pod.spec?.nodeName);
      expect(isPodReady(pod)).toBe(true);
      expect(pod.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
      expect(pod.spec?.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }));
    }
  });

  it('selects nodes by GPU product', async () => {
    await waitForModel(cp.kubeConfig, ns, 'on-a100', isReady, 45_000, 'Ready');
    const [pod] = await podsOf(cp, 'on-a100');
    expect(pod?.spec?.nodeSelector).toEqual({ 'nvidia.com/gpu.product': A100 });
    expect(pod?.spec?.nodeName).toBe('gpu-a100');
  });

  it('reports Ready=False GPUUnschedulable with the scheduler\'s message when no node has enough GPUs', async () => {
    const model = await waitForModel(cp.kubeConfig, ns, 'too-big', (m) => condition(m, 'Ready')?.reason === 'GPUUnschedulable', 45_000, 'GPUUnschedulable');
    const ready = condition(model, 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toMatch(/^pod too-big-[a-z0-9]+-[a-z0-9]+: 0\/3 nodes are available: .*Insufficient nvidia\.com\/gpu/);
    expect(condition(model, 'Degraded')).toMatchObject({ status: 'True', reason: 'GPUUnschedulable', message: ready?.message });
    expect(condition(model, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress' });
    expect(model.status).toMatchObject({ replicas: 1, readyReplicas: 0 });
    const [pod] = await podsOf(cp, 'too-big');
    expect(pod?.status?.phase).toBe('Pending');
    expect(pod?.spec?.nodeName).toBeUndefined();
  });

  it('records one Warning event for it', async () => {
    const warnings = (await listEvents(cp.kubeConfig, ns, 'too-big')).filter((e) => e.type === 'Warning' && e.involvedObject.kind === 'SentimentModel');
    expect(warnings.map((e) => e.reason)).toEqual(['GPUUnschedulable']);
    expect(warnings[0]?.message).toContain('Insufficient nvidia.com/gpu');
  });
});
