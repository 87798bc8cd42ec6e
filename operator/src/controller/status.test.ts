import { describe, expect, it } from 'vitest';
import type { V1ContainerStatus, V1Deployment, V1DeploymentCondition, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_TEMPLATE_HASH, type SentimentModel } from '../api/v1alpha1/index.js';
import { sentimentModel } from '../testing/fixtures.js';
import { computeStatus, ownedStatusHash, withApplyFailure, type StatusInputs } from './status.js';

const HASH = 'a'.repeat(64);
const OLD_HASH = 'b'.repeat(64);
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

// Snapshots shaped like what the apiserver returned in the integration suites (trimmed to the fields read).
const available = (status: 'True' | 'False'): V1DeploymentCondition => ({
  type: 'Available', status, reason: status === 'True' ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
  message: status === 'True' ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
});
const progressing = (reason = 'NewReplicaSetAvailable', status: 'True' | 'False' = 'True', message = 'ReplicaSet "sst2-6984646f79" has successfully progressed.'): V1DeploymentCondition => ({ type: 'Progressing', status, reason, message });

function deployment(s: { replicas: number; ready: number; updated?: number; available?: number; conditions: V1DeploymentCondition[]; hash?: string; generation?: number; observed?: number }): V1Deployment {
  return {
    metadata: { name: 'sst2', namespace: 'ml', generation: s.generation ?? 2 },
    spec: { selector: {}, template: { metadata: { annotations: { [ANNOTATION_TEMPLATE_HASH]: s.hash ?? HASH } } } },
    status: {
      observedGeneration: s.observed ?? s.generation ?? 2, replicas: s.replicas, readyReplicas: s.ready,
      updatedReplicas: s.updated ?? s.replicas, availableReplicas: s.available ?? s.ready, conditions: s.conditions,
    },
  };
}

function pod(name: string, status: V1Pod['status'], hash = HASH, terminating = false): V1Pod {
  return {
    metadata: { name, namespace: 'ml', annotations: { [ANNOTATION_TEMPLATE_HASH]: hash }, ...(terminating ? { deletionTimestamp: new Date(T0) } : {}) },
    status,
  };
}

const unschedulable = (message: string): V1Pod['status'] => ({
  phase: 'Pending',
  conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
});
const GPU_MESSAGE = '0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 Insufficient nvidia.com/gpu. no new claims to deallocate, preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
const CPU_MESSAGE = '0/2 nodes are available: 2 Insufficient cpu. no new claims to deallocate, preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.';

const running = (containers: V1ContainerStatus[], init: V1ContainerStatus[] = []): V1Pod['status'] => ({
  phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }],
  initContainerStatuses: init, containerStatuses: containers,
});
const container = (name: string, state: V1ContainerStatus['state'], lastState: V1ContainerStatus['lastState'] = {}, restartCount = 0): V1ContainerStatus => ({
  name, image: 'img', imageID: '', ready: false, restartCount, state, lastState,
});

const gpuModel = () => sentimentModel({ runtime: { executionProvider: 'cuda' }, quantization: 'fp16', resources: { gpu: { count: 8 } } }, 'sst2');
const cpuModel = (replicas = 2) => sentimentModel({ replicas }, 'sst2');

function status(over: Partial<StatusInputs> & { model?: SentimentModel } = {}) {
  const model = over.model ?? cpuModel();
  model.metadata.generation = 3;
  return computeStatus({
    model, previous: undefined, deployment: undefined, desired: { templateHash: HASH }, rollout: ROLLOUT, pods: [], schedulerSettling: false, endpoint: 'http://sst2.ml.svc.cluster.local', now: T1, ...over,
  });
}
const conditions = (s: ReturnType<typeof status>) => Object.fromEntries((s.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));

const ROLLOUT = { strategy: 'Surge' as const, reason: 'NoGPU', message: 'CPU-only pods: a surge pod needs no spare GPU', templateHash: HASH };
const complete = () => deployment({ replicas: 2, ready: 2, conditions: [available('True'), progressing()] });
const readyPod = (name: string, hash = HASH) => pod(name, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }, hash);
/** What the pod cache holds once a two-replica rollout of HASH is done. */
const rolledOut = () => [readyPod('sst2-1'), readyPod('sst2-2')];

describe('computeStatus', () => {
  it('reports Creating before the Deployment exists', () => {
    const s = status();
    expect(conditions(s)).toEqual({ Ready: ['False', 'Creating'], Progressing: ['True', 'Creating'], Degraded: ['False', 'AsExpected'] });
    expect(s).toMatchObject({ replicas: 0, readyReplicas: 0, updatedReplicas: 0, observedGeneration: 3 });
  });

  it('reports Ready and RolloutComplete with counts, selector, endpoint and images', () => {
    const s = status({ deployment: complete(), pods: rolledOut() });
    expect(conditions(s)).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['False', 'RolloutComplete'], Degraded: ['False', 'AsExpected'] });
    expect(s).toMatchObject({
      replicas: 2, readyReplicas: 2, updatedReplicas: 2, endpoint: 'http://sst2.ml.svc.cluster.local',
      selector: 'app.kubernetes.io/name=sentiment-runtime,serving.sentiment.dev/model=sst2',
      model: 'ghcr.io/example/sst2-model:1.0.0', images: { runtime: 'ghcr.io/example/sentiment-runtime:0.1.0', model: 'ghcr.io/example/sst2-model:1.0.0' },
    });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ message: '2/2 replicas ready, 2/2 updated', observedGeneration: 3, lastTransitionTime: T1 });
  });

  it('carries the rollout choice and which revision serves', () => {
    const desired = { templateHash: HASH, model: 'ghcr.io/example/sst2-model:1.0.1' };
    const rolling = status({ deployment: complete(), desired, pods: [readyPod('old', OLD_HASH), readyPod('new', HASH)] });
    expect(rolling.rollout).toEqual(ROLLOUT);
    expect(rolling.revisions).toEqual({ serving: { templateHash: OLD_HASH }, rollingOutTo: desired });
    const switched = status({ deployment: complete(), desired, pods: [readyPod('new', HASH)] });
    expect(switched.revisions).toEqual({ serving: desired });
    expect(conditions(switched).Progressing).toEqual(['False', 'RolloutComplete']);
    // No pod ready and none wanted (scaled to zero): no revisions at all, not an empty object the apply would turn into null.
    expect(status({ model: cpuModel(0), deployment: deployment({ replicas: 0, ready: 0, conditions: [available('True'), progressing()] }), desired, pods: [] })).not.toHaveProperty('revisions');
  });

  it('keeps Progressing while the pod cache still shows an old revision serving, though the Deployment is done', () => {
    const s = status({ deployment: complete(), pods: [readyPod('old', OLD_HASH), ...rolledOut()] });
    expect(conditions(s)).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['True', 'RolloutInProgress'], Degraded: ['False', 'AsExpected'] });
  });

  it('keeps Progressing while the cached Deployment still has the old template or an older generation', () => {
    expect(conditions(status({ deployment: { ...complete(), spec: deployment({ replicas: 2, ready: 2, conditions: [], hash: OLD_HASH }).spec } }))?.Progressing).toEqual(['True', 'RolloutInProgress']);
    expect(conditions(status({ deployment: deployment({ replicas: 2, ready: 2, conditions: [available('True'), progressing()], generation: 3, observed: 2 }) })).Progressing)
      .toEqual(['True', 'RolloutInProgress']);
  });

  it('stays Ready during a surge rollout while old pods serve', () => {
    const rolling = deployment({ replicas: 3, ready: 3, updated: 1, conditions: [available('True'), progressing('ReplicaSetUpdated')] });
    expect(conditions(status({ deployment: rolling }))).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['True', 'RolloutInProgress'], Degraded: ['False', 'AsExpected'] });
  });

  it('reports RolloutStuck from ProgressDeadlineExceeded', () => {
    const stuck = deployment({
      replicas: 3, ready: 2, updated: 1, conditions: [available('True'), progressing('ProgressDeadlineExceeded', 'False', 'ReplicaSet "sst2-7d4b9c" has timed out progressing.')],
    });
    const s = status({ deployment: stuck });
    expect(conditions(s)).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['False', 'RolloutStuck'], Degraded: ['True', 'RolloutStuck'] });
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toBe('ReplicaSet "sst2-7d4b9c" has timed out progressing.');
  });

  it('keeps the pods\' reason past the progress deadline, adding the deadline to the message', () => {
    const stuck = deployment({
      replicas: 3, ready: 2, updated: 1, conditions: [available('True'), progressing('ProgressDeadlineExceeded', 'False', 'ReplicaSet "sst2-7d4b9c" has timed out progressing.')],
    });
    const s = status({ deployment: stuck, pods: [pod('p', unschedulable(CPU_MESSAGE))] });
    expect(conditions(s)).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['False', 'RolloutStuck'], Degraded: ['True', 'Unschedulable'] });
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toBe(`pod p: ${CPU_MESSAGE}; ReplicaSet "sst2-7d4b9c" has timed out progressing.`);
  });

  it('reports GPUUnschedulable with the scheduler\'s message', () => {
    const s = status({
      model: gpuModel(),
      deployment: deployment({ replicas: 1, ready: 0, updated: 1, conditions: [available('False'), progressing('ReplicaSetUpdated')] }),
      pods: [pod('sst2-5d8f7-x2x9q', unschedulable(GPU_MESSAGE))],
    });
    expect(conditions(s)).toEqual({ Ready: ['False', 'GPUUnschedulable'], Progressing: ['True', 'RolloutInProgress'], Degraded: ['True', 'GPUUnschedulable'] });
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message).toBe(`pod sst2-5d8f7-x2x9q: ${GPU_MESSAGE}`);
  });

  it('takes an unschedulable pod for waiting, not failing, while the model\'s pods release resources', () => {
    const crashing = running([container('runtime', { terminated: { exitCode: 1, reason: 'Error' } })]);
    const replacing = { model: gpuModel(), deployment: deployment({ replicas: 2, ready: 1, updated: 1, conditions: [available('True'), progressing('ReplicaSetUpdated')] }) };
    expect(conditions(status({ ...replacing, pods: [pod('new', unschedulable(GPU_MESSAGE))], schedulerSettling: true })).Degraded).toEqual(['False', 'AsExpected']);
    expect(conditions(status({ ...replacing, pods: [pod('new', unschedulable(GPU_MESSAGE))] })).Degraded).toEqual(['True', 'GPUUnschedulable']);
    expect(conditions(status({ ...replacing, pods: [pod('a', unschedulable(GPU_MESSAGE)), pod('b', crashing)], schedulerSettling: true })).Degraded).toEqual(['True', 'ModelLoadFailed']);
  });

  it('reports plain Unschedulable when the scheduler names no GPU resource', () => {
    const waiting = { deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', unschedulable(CPU_MESSAGE))] };
    expect(conditions(status(waiting)).Ready).toEqual(['False', 'Unschedulable']);
    expect(conditions(status({ ...waiting, model: gpuModel() })).Ready).toEqual(['False', 'Unschedulable']);
  });

  it('reports ImagePullFailed from a pull back-off', () => {
    const pulling = running([container('runtime', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "ghcr.io/example/sentiment-runtime:0.1.0"' } })]);
    const s = status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', pulling)] });
    expect(conditions(s).Degraded).toEqual(['True', 'ImagePullFailed']);
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toBe('pod p container runtime: ImagePullBackOff: Back-off pulling image "ghcr.io/example/sentiment-runtime:0.1.0"');
  });

  it("reports ContainerConfigFailed when the URL's Secret is missing, with the kubelet's message", () => {
    const blocked = { ...running([container('runtime', { waiting: { reason: 'PodInitializing' } })],
      [container('model-fetch', { waiting: { reason: 'CreateContainerConfigError', message: 'secret "model-url" not found' } })]), phase: 'Pending' };
    const s = status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', blocked)] });
    expect(conditions(s).Degraded).toEqual(['True', 'ContainerConfigFailed']);
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toBe('pod p container model-fetch: CreateContainerConfigError: secret "model-url" not found');
  });

  it('reports ModelLoadFailed from a crash-looping runtime with its last termination message', () => {
    const crashing = running([container('runtime', { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      { terminated: { exitCode: 1, reason: 'Error', message: 'model: /models/model/model.int8.onnx: no such file' } }, 3)]);
    const s = status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', crashing)] });
    expect(conditions(s)).toMatchObject({ Ready: ['False', 'ModelLoadFailed'], Degraded: ['True', 'ModelLoadFailed'] });
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message).toBe('pod p container runtime: exit code 1 (Error: model: /models/model/model.int8.onnx: no such file)');
  });

  it('takes the last line of a termination message the kubelet read from the logs (FallbackToLogsOnError)', () => {
    const logs = '{"level":30,"msg":"loading model"}\n{"level":30,"msg":"opening session"}\nsentiment-runtime: unexpected error: out of file descriptors\n';
    const crashing = running([container('runtime', { waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { exitCode: 1, reason: 'Error', message: logs } }, 2)]);
    const s = status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', crashing)] });
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toBe('pod p container runtime: exit code 1 (Error: sentiment-runtime: unexpected error: out of file descriptors)');
  });

  it('keeps ModelLoadFailed while a crashed runtime runs again short of its startup probe, and drops it once started', () => {
    const lastExit = { terminated: { exitCode: 1, reason: 'Error', message: 'model: no such file' } };
    const again = (started: boolean) => running([{ ...container('runtime', { running: { startedAt: new Date(T0) } }, lastExit, 2), started, ready: started }]);
    const degraded = (started: boolean) => status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', again(started))] })
      .conditions?.find((c) => c.type === 'Degraded');
    expect(degraded(false)).toMatchObject({ status: 'True', reason: 'ModelLoadFailed', message: 'pod p container runtime: exit code 1 (Error: model: no such file)' });
    expect(degraded(true)).toMatchObject({ status: 'False', reason: 'AsExpected' });
  });

  it('reports ModelLoadFailed from a failed model-fetch init container', () => {
    const fetching = running([container('runtime', { waiting: { reason: 'PodInitializing' } })],
      [container('model-fetch', { terminated: { exitCode: 2, reason: 'Error', message: 'sha256 mismatch' } })]);
    const s = status({ deployment: deployment({ replicas: 1, ready: 0, conditions: [available('False')] }), pods: [pod('p', fetching)] });
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'ModelLoadFailed', message: 'pod p container model-fetch: exit code 2 (Error: sha256 mismatch)' });
  });

  it('puts a model that fails to load ahead of a pod that waits for room', () => {
    const crashing = running([container('runtime', { terminated: { exitCode: 1, reason: 'Error' } })]);
    const s = status({ deployment: deployment({ replicas: 2, ready: 0, conditions: [available('False')] }), pods: [pod('a', unschedulable(CPU_MESSAGE)), pod('b', crashing)] });
    expect(conditions(s).Degraded).toEqual(['True', 'ModelLoadFailed']);
  });

  it('ignores pods of an older template and pods being deleted', () => {
    const crashing = running([container('runtime', { terminated: { exitCode: 1, reason: 'Error' } })]);
    const s = status({ deployment: complete(), pods: [pod('old', crashing, OLD_HASH), pod('going', crashing, HASH, true)] });
    expect(conditions(s).Degraded).toEqual(['False', 'AsExpected']);
  });

  it('reports PodCreationFailed with the apiserver\'s answer when the ReplicaSet cannot create pods', () => {
    const forbidden = 'pods "sst2-7d4b9c-" is forbidden: no PriorityClass with name inference-high was found';
    const replicaFailure = { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: forbidden };
    const fresh = status({ deployment: deployment({ replicas: 0, ready: 0, conditions: [available('False'), progressing('ReplicaSetUpdated'), replicaFailure] }) });
    expect(conditions(fresh)).toEqual({ Ready: ['False', 'PodCreationFailed'], Progressing: ['True', 'RolloutInProgress'], Degraded: ['True', 'PodCreationFailed'] });
    expect(fresh.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ message: forbidden, observedGeneration: 3 });
    // During a rollout the old pods keep serving: Ready holds, Degraded says why the new ones never come.
    const rolling = status({ deployment: deployment({ replicas: 2, ready: 2, updated: 0, conditions: [available('True'), progressing('ReplicaSetUpdated'), replicaFailure] }) });
    expect(conditions(rolling)).toEqual({ Ready: ['True', 'MinimumReplicasAvailable'], Progressing: ['True', 'RolloutInProgress'], Degraded: ['True', 'PodCreationFailed'] });
  });

  it('reports ScaledToZero when no replica is wanted', () => {
    const s = status({ model: cpuModel(0), deployment: deployment({ replicas: 0, ready: 0, conditions: [available('True'), progressing()] }) });
    expect(conditions(s)).toMatchObject({ Ready: ['False', 'ScaledToZero'], Progressing: ['False', 'RolloutComplete'] });
  });

  it('moves lastTransitionTime only when a condition flips', () => {
    const before = status({ deployment: complete(), pods: rolledOut(), now: T0 });
    const again = status({ deployment: complete(), pods: rolledOut(), previous: before, now: T1 });
    expect(again.conditions?.map((c) => c.lastTransitionTime)).toEqual([T0, T0, T0]);
    expect(ownedStatusHash(again)).toBe(ownedStatusHash(before));
    const down = status({ deployment: deployment({ replicas: 2, ready: 0, conditions: [available('False'), progressing()] }), previous: before, now: T1 });
    expect(Object.fromEntries((down.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]))).toEqual({ Ready: T1, Progressing: T1, Degraded: T0 });
  });
});

describe('ownedStatusHash', () => {
  it('ignores the fields the autoscaler owns', () => {
    const ours = status({ deployment: complete() });
    expect(ownedStatusHash({ ...ours, desiredReplicas: 7, autoscaling: { panic: true } })).toBe(ownedStatusHash(ours));
    expect(ownedStatusHash({ ...ours, readyReplicas: 1 })).not.toBe(ownedStatusHash(ours));
    expect(ownedStatusHash({ ...ours, rollout: { ...ROLLOUT, strategy: 'Replace' } })).not.toBe(ownedStatusHash(ours));
    expect(ownedStatusHash({ ...ours, revisions: {} })).not.toBe(ownedStatusHash(ours));
    expect(ownedStatusHash(undefined)).toBe('');
  });
});

describe('withApplyFailure', () => {
  const refused = 'applying Deployment sst2: HTTP 422: Deployment.apps "sst2" is invalid: spec.template.spec.priorityClassName: Invalid value';

  it('turns a Ready model not Ready, not Progressing and Degraded with the apiserver\'s answer and the current generation', () => {
    const before = status({ deployment: complete(), pods: rolledOut(), now: T0 });
    const s = withApplyFailure(status({ deployment: complete(), pods: rolledOut(), previous: before, now: T1 }), before, refused, T1);
    expect(conditions(s)).toEqual({ Ready: ['False', 'ApplyFailed'], Progressing: ['False', 'ApplyFailed'], Degraded: ['True', 'ApplyFailed'] });
    expect(s.observedGeneration).toBe(3);
    for (const c of s.conditions ?? []) expect(c).toMatchObject({ message: refused, observedGeneration: 3 });
    // Progressing was True→False already at T0 (RolloutComplete), so only Ready and Degraded flip now.
    expect(Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]))).toEqual({ Ready: T1, Progressing: T0, Degraded: T1 });
    expect(s.replicas).toBe(2);
  });

  it('reports a model whose first Deployment is refused, and keeps transition times while the refusal stands', () => {
    const first = withApplyFailure(status({ now: T0 }), undefined, refused, T0);
    expect(conditions(first)).toEqual({ Ready: ['False', 'ApplyFailed'], Progressing: ['False', 'ApplyFailed'], Degraded: ['True', 'ApplyFailed'] });
    const again = withApplyFailure(status({ previous: first, now: T1 }), first, refused, T1);
    expect(ownedStatusHash(again)).toBe(ownedStatusHash(first));
  });

  it('keeps an over-long answer within the condition message bound', () => {
    const s = withApplyFailure(status(), undefined, 'x'.repeat(40_000), T1);
    expect(s.conditions?.[0]?.message).toHaveLength(32_768);
  });
});
