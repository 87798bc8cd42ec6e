// Auto picks the rolling-update strategy from the GPUs the real scheduler would find: each model
// below has a GPU pool of its own (by product label), and all four roll a new model image at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { gpuNode, startControlPlane, type ControlPlane, type NodeSpec } from '../support/controlplane.js';
import { applyObject, createNamespace, listEvents, readDeployment, waitFor } from '../support/kube.js';
import {
  applyModel, condition, isReady, recordStatuses, RUNTIME_IMAGE, startOperator, waitForModel, type RunningOperator, type StatusRecorder,
} from '../support/operator.js';

const ns = 'strategy';
const NEW_IMAGE = 'ghcr.io/example/sst2-model:1.0.1';
const node = (name: string, pool: string, gpus: number) => gpuNode(name, { gpus, product: pool });
/** A pool node whose extra taint the model's pods do not tolerate: its GPUs must not count. */
const tainted = (name: string, pool: string, gpus: number): NodeSpec => {
  const spec = node(name, pool, gpus);
  return { ...spec, taints: [...(spec.taints ?? []), { key: 'dedicated', value: 'training', effect: 'NoSchedule' }] };
};

const models = {
  /** 2 replicas on 2 GPUs: no room for a surge pod. */
  full: { pool: 'POOL-FULL', replicas: 2 },
  /** 2 replicas on 3 GPUs: room for one. */
  spare: { pool: 'POOL-SPARE', replicas: 2 },
  /** 1 replica on 1 GPU: no room, but the only replica must keep serving. */
  single: { pool: 'POOL-SINGLE', replicas: 1 },
  /** Plenty of room, but the user asks for Replace. */
  user: { pool: 'POOL-USER', replicas: 2, rollout: { strategy: 'Replace' } },
};
type Name = keyof typeof models;
const manifest = (name: Name, image?: string) => {
  const { pool, ...rest } = models[name];
  return {
    ...rest,
    ...(image ? { model: { image: { reference: image } } } : {}),
    runtime: { image: RUNTIME_IMAGE, executionProvider: 'cuda' }, quantization: 'fp16', resources: { gpu: { count: 1, product: pool } },
  };
};
const complete = (name: Name, generation: number) => (m: SentimentModel) => m.metadata.generation === generation && isReady(m)
  && condition(m, 'Progressing')?.reason === 'RolloutComplete' && m.status?.updatedReplicas === models[name].replicas && m.status.replicas === models[name].replicas;

describe('operator: GPU-aware rollout strategy', () => {
  let cp: ControlPlane;
  /** Events are written after the status they announce, so a test that saw the status waits for them. */
  async function eventsWith(model: string, reason: string) {
    return waitFor(async () => {
      const events = (await listEvents(cp.kubeConfig, ns, model)).filter((e) => e.reason === reason);
      return events.length > 0 ? events : undefined;
    }, 10_000, `no ${reason} event for ${model}`);
  }
  let op: RunningOperator;
  let recorders: Record<Name, StatusRecorder>;
  let waitingSingle: SentimentModel;
  const names = Object.keys(models) as Name[];
  const strategyOf = async (name: Name) => (await readDeployment(cp.kubeConfig, ns, name))?.spec?.strategy?.rollingUpdate;

  beforeAll(async () => {
    cp = await startControlPlane({
      scheduler: true, controllerManager: true,
      nodes: [
        node('full-1', 'POOL-FULL', 2), tainted('full-tainted', 'POOL-FULL', 4), node('full-cordoned', 'POOL-FULL', 4),
        node('spare-1', 'POOL-SPARE', 3), node('single-1', 'POOL-SINGLE', 1), node('user-1', 'POOL-USER', 4),
      ],
    });
    await applyObject(cp.kubeConfig, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'full-cordoned' }, spec: { unschedulable: true } }, 'cordon');
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig);
    await Promise.all(names.map((name) => applyModel(cp.kubeConfig, ns, name, manifest(name))));
    await Promise.all(names.map((name) => waitForModel(cp.kubeConfig, ns, name, complete(name, 1), 45_000, 'first rollout complete')));

    recorders = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await recordStatuses(cp.kubeConfig, ns, name)]))) as typeof recorders;
    await Promise.all(names.map((name) => applyModel(cp.kubeConfig, ns, name, manifest(name, NEW_IMAGE))));
    waitingSingle = await waitForModel(cp.kubeConfig, ns, 'single', (m) => m.metadata.generation === 2 && condition(m, 'Degraded')?.reason === 'GPUUnschedulable',
      30_000, 'new single pod waiting for a GPU');
    // A GPU frees up (here: a new node joins the pool), and the waiting surge pod takes it.
    await cp.addNode(node('single-2', 'POOL-SINGLE', 1));
    const finals = await Promise.all(names.map((name) => waitForModel(cp.kubeConfig, ns, name, complete(name, 2), 45_000, 'second rollout complete')));
    await Promise.all(names.map((name, i) => recorders[name].stopAfter(finals[i]!)));
  });
  afterAll(async () => {
    for (const r of Object.values(recorders ?? {})) r.stop();
    await op?.stop();
    await cp?.stop();
  });

  it('replaces without surge on a full pool, counting neither tainted nor cordoned nodes, and completes', async () => {
    expect(await strategyOf('full')).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    const final = await waitForModel(cp.kubeConfig, ns, 'full', complete('full', 2));
    expect(final.status?.rollout).toMatchObject({ strategy: 'Replace', reason: 'NoSpareGPU' });
    expect(final.status?.rollout?.message).toMatch(/^no node the pods may use has 1 nvidia\.com\/gpu free \(0 nvidia\.com\/gpu free on 1 node\(s\)/);
    expect(final.status?.rollout?.message).toContain('; not counted: full-cordoned (cordoned), full-tainted (taint dedicated=training:NoSchedule not tolerated))');
    expect(final.status?.revisions).toEqual({ serving: expect.objectContaining({ model: NEW_IMAGE }) });
    // No new pod ever waited for a GPU that the old ones held.
    expect(recorders.full.seen.filter((m) => condition(m, 'Degraded')?.status === 'True')).toEqual([]);
  });

  it('announces the change of strategy with an event', async () => {
    const events = await eventsWith('full', 'RolloutStrategy');
    expect(events.map((e) => e.message)).toEqual([expect.stringMatching(/^Replace: no node the pods may use has 1 nvidia\.com\/gpu free/)]);
    const started = await eventsWith('full', 'RolloutStarted');
    expect(started[0]?.message).toContain('; Replace: no node the pods may use');
  });

  it('surges where a spare GPU exists, without an extra event', async () => {
    expect(await strategyOf('spare')).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const final = await waitForModel(cp.kubeConfig, ns, 'spare', complete('spare', 2));
    expect(final.status?.rollout).toMatchObject({ strategy: 'Surge', reason: 'SpareGPU', message: expect.stringMatching(/^node spare-1 has 1 nvidia\.com\/gpu free/) });
    expect((await listEvents(cp.kubeConfig, ns, 'spare')).filter((e) => e.reason === 'RolloutStrategy')).toEqual([]);
    expect(recorders.spare.seen.filter((m) => condition(m, 'Ready')?.status === 'False')).toEqual([]);
  });

  it('keeps surging the only replica without a spare GPU, says why, and serves from the old pod until a GPU frees up', async () => {
    expect(waitingSingle.status?.rollout).toMatchObject({ strategy: 'Surge', reason: 'LastReplica' });
    expect(waitingSingle.status?.rollout?.message).toContain('replacing the only replica would stop serving: the new pod waits Pending until 1 nvidia.com/gpu frees up');
    expect(condition(waitingSingle, 'Ready')?.status).toBe('True');
    expect(condition(waitingSingle, 'Degraded')?.message).toContain('Insufficient nvidia.com/gpu');
    expect(waitingSingle.status?.revisions).toMatchObject({ serving: { model: 'ghcr.io/example/sst2-model:1.0.0' }, rollingOutTo: { model: NEW_IMAGE } });
    expect(await strategyOf('single')).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const events = await eventsWith('single', 'RolloutStrategy');
    expect(events.map((e) => e.message)).toEqual([expect.stringMatching(/^Surge: no node the pods may use has 1 nvidia\.com\/gpu free .* the new pod waits Pending/)]);
    expect(recorders.single.seen.filter((m) => condition(m, 'Ready')?.status === 'False')).toEqual([]);
  });

  it('follows the user\'s strategy over its own choice', async () => {
    expect(await strategyOf('user')).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    const final = await waitForModel(cp.kubeConfig, ns, 'user', complete('user', 2));
    expect(final.status?.rollout).toMatchObject({ strategy: 'Replace', reason: 'UserSpecified' });
    expect((await listEvents(cp.kubeConfig, ns, 'user')).filter((e) => e.reason === 'RolloutStrategy')).toEqual([]);
  });
});
