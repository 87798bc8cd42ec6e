// Pods that cannot start, as the kubelet reports them (kwok stages that fail the pods of sentinel
// model images): the model's status names the cause, a Warning event says it once, and fixing
// the spec brings the model back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CRASHING_MODEL_IMAGE, cpuNode, startControlPlane, UNPULLABLE_MODEL_IMAGE, type ControlPlane,
} from '../support/controlplane.js';
import { createNamespace, listEvents } from '../support/kube.js';
import { applyModel, condition, isReady, MODEL_IMAGE, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'failures';
const withModelImage = (reference: string) => ({ model: { image: { reference } } });

describe('operator: pods that cannot start', () => {
  let cp: ControlPlane;
  let op: RunningOperator;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1')] });
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig);
    await Promise.all([
      applyModel(cp.kubeConfig, ns, 'unpullable', withModelImage(UNPULLABLE_MODEL_IMAGE)),
      applyModel(cp.kubeConfig, ns, 'crashing', withModelImage(CRASHING_MODEL_IMAGE)),
    ]);
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('reports ImagePullFailed with the kubelet\'s message when the model image cannot be pulled', async () => {
    const m = await waitForModel(cp.kubeConfig, ns, 'unpullable', (x) => condition(x, 'Degraded')?.status === 'True', 30_000, 'Degraded');
    expect(condition(m, 'Degraded')).toMatchObject({ reason: 'ImagePullFailed', observedGeneration: 1 });
    expect(condition(m, 'Degraded')?.message).toMatch(/^pod unpullable-[a-z0-9]+-[a-z0-9]+ container model-copy: ImagePullBackOff: Back-off pulling image "ghcr\.io\/example\/unpullable-model:1\.0\.0"/);
    expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'ImagePullFailed' });
    const events = await listEvents(cp.kubeConfig, ns, 'unpullable', 'ImagePullFailed');
    expect(events.map((e) => [e.type, e.count])).toEqual([['Warning', 1]]);
  });

  it('reports ModelLoadFailed with the runtime\'s last termination message when it crash-loops', async () => {
    const m = await waitForModel(cp.kubeConfig, ns, 'crashing', (x) => condition(x, 'Degraded')?.status === 'True', 30_000, 'Degraded');
    expect(condition(m, 'Degraded')).toMatchObject({ reason: 'ModelLoadFailed' });
    expect(condition(m, 'Degraded')?.message).toMatch(/container runtime: exit code 1 \(Error: model: onnx\/model_quantized\.onnx: failed to load the model: protobuf parsing failed\)$/);
    expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'ModelLoadFailed' });
    expect(condition(m, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress' });
  });

  it('recovers once the spec names a model image that works', async () => {
    await applyModel(cp.kubeConfig, ns, 'crashing', withModelImage(MODEL_IMAGE));
    const m = await waitForModel(cp.kubeConfig, ns, 'crashing', (x) => x.metadata.generation === 2 && isReady(x) && condition(x, 'Progressing')?.reason === 'RolloutComplete', 45_000, 'recovered');
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(m.status?.revisions).toEqual({ serving: expect.objectContaining({ model: MODEL_IMAGE }) });
    expect(await listEvents(cp.kubeConfig, ns, 'crashing', 'Ready')).toHaveLength(1);
  });
});
