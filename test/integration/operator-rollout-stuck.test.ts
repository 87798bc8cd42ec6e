// A rollout whose new pods cannot be scheduled (a GPU product no node has) is Degraded with the
// scheduler's reason well within its progress deadline, and RolloutStuck once the deadline passes,
// while the pod the Replace strategy left of the old revision keeps the model Ready.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { gpuNode, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, isPodReady, listEvents, listPods } from '../support/kube.js';
import {
  applyModel, condition, isReady, MODEL_IMAGE, recordStatuses, RUNTIME_IMAGE, startOperator, waitForModel, type RunningOperator,
} from '../support/operator.js';

const ns = 'stuck';
const name = 'sst2';
/** The minimum the CRD allows. */
const DEADLINE_S = 30;
const spec = (product: string) => ({
  replicas: 2,
  rollout: { progressDeadlineSeconds: DEADLINE_S },
  runtime: { image: RUNTIME_IMAGE, executionProvider: 'cuda' },
  quantization: 'fp16',
  resources: { gpu: { count: 1, product } },
});
const SCHEDULER_REASON = /^pod sst2-[a-z0-9]+-[a-z0-9]+: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/;

describe('operator: a rollout that cannot progress', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  let changedAt: number;
  let degraded: { model: SentimentModel; afterMs: number };
  let stuck: { model: SentimentModel; afterMs: number };
  let seen: SentimentModel[];

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [gpuNode('gpu-1', { gpus: 4 })] });
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig);
    await applyModel(cp.kubeConfig, ns, name, spec('NVIDIA-H100-80GB-HBM3'));
    await waitForModel(cp.kubeConfig, ns, name, (m) => isReady(m) && m.status?.readyReplicas === 2 && condition(m, 'Progressing')?.reason === 'RolloutComplete');

    const recorder = await recordStatuses(cp.kubeConfig, ns, name);
    changedAt = Date.now();
    await applyModel(cp.kubeConfig, ns, name, spec('NVIDIA-B200'));
    const model = await waitForModel(cp.kubeConfig, ns, name, (m) => m.metadata.generation === 2 && condition(m, 'Degraded')?.status === 'True', DEADLINE_S * 1000, 'Degraded');
    degraded = { model, afterMs: Date.now() - changedAt };
    const late = await waitForModel(cp.kubeConfig, ns, name, (m) => condition(m, 'Progressing')?.reason === 'RolloutStuck', (DEADLINE_S + 30) * 1000, 'RolloutStuck');
    stuck = { model: late, afterMs: Date.now() - changedAt };
    await recorder.stopAfter(late);
    seen = recorder.seen;
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('reports Degraded with the scheduler\'s reason before the deadline, while still Ready and Progressing', () => {
    expect(degraded.afterMs).toBeLessThan(DEADLINE_S * 1000);
    expect(condition(degraded.model, 'Degraded')).toMatchObject({ status: 'True', reason: 'Unschedulable', message: expect.stringMatching(SCHEDULER_REASON) });
    expect(condition(degraded.model, 'Ready')?.status).toBe('True');
    expect(condition(degraded.model, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress' });
    // No GPU matches the new product, so Auto stopped an old pod first instead of leaving a surge pod waiting.
    expect(degraded.model.status?.rollout).toMatchObject({ strategy: 'Replace', reason: 'NoSpareGPU' });
  });

  it('turns Progressing=False RolloutStuck at the deadline, keeping the cause in Degraded', () => {
    expect(stuck.afterMs).toBeGreaterThanOrEqual(DEADLINE_S * 1000);
    expect(condition(stuck.model, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutStuck', message: expect.stringMatching(/has timed out progressing/) });
    const cause = condition(stuck.model, 'Degraded');
    expect(cause).toMatchObject({ status: 'True', reason: 'Unschedulable', message: expect.stringMatching(SCHEDULER_REASON) });
    expect(cause?.message).toMatch(/; ReplicaSet "sst2-[a-z0-9]+" has timed out progressing\.$/);
  });

  it('exports the conditions for alerting (sentiment_operator_model_condition)', async () => {
    expect(await op.metric('sentiment_operator_model_condition', { namespace: ns, name, type: 'Degraded', status: 'True', reason: 'Unschedulable' })).toBe(1);
    expect(await op.metric('sentiment_operator_model_condition', { namespace: ns, name, type: 'Progressing', status: 'False', reason: 'RolloutStuck' })).toBe(1);
    expect(await op.metric('sentiment_operator_model_condition', { namespace: ns, name, type: 'Ready', status: 'True' })).toBe(1);
  });

  it('keeps serving from the old revision throughout', async () => {
    expect(seen.filter((m) => condition(m, 'Ready')?.status === 'False')).toEqual([]);
    expect(stuck.model.status?.revisions).toMatchObject({ serving: { model: MODEL_IMAGE }, rollingOutTo: { templateHash: expect.any(String) } });
    const pods = (await listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${name}`)).filter((p) => !p.metadata?.deletionTimestamp);
    expect(pods.filter(isPodReady).map((p) => p.spec?.nodeSelector?.['nvidia.com/gpu.product'])).toEqual(['NVIDIA-H100-80GB-HBM3']);
    expect(pods.filter((p) => !isPodReady(p)).map((p) => p.status?.phase)).toEqual(['Pending']);
  });

  it('records one Warning event for the cause', async () => {
    const warnings = (await listEvents(cp.kubeConfig, ns, name)).filter((e) => e.type === 'Warning' && e.involvedObject.kind === 'SentimentModel');
    expect(warnings.map((e) => e.reason)).toEqual(['Unschedulable']);
  });
});
