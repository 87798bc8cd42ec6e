import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_TEMPLATE_HASH, LABEL_MODEL, type RolloutChoice, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import { cache, gpuNode, gpuPods, sentimentModel } from '../testing/fixtures.js';
import { plan, SCHEDULER_SETTLE_MS, type Observed, type Plan, type Previous } from './plan.js';
import { makeDeployment } from './resources/deployment.js';
import { desiredDraft } from './resources/desired.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const EARLIER = '2026-03-01T11:00:00Z';
const CLUSTER = { imageVolumes: false, clusterDomain: 'cluster.local' };

const cpuModel = (over: Parameters<typeof sentimentModel>[0] = {}) => sentimentModel({ replicas: 2, ...over }, 'sst2');
const gpuModel = (over: Parameters<typeof sentimentModel>[0] = {}) =>
  sentimentModel({ replicas: 2, runtime: { executionProvider: 'cuda' }, quantization: 'fp16', resources: { gpu: { count: 1 } }, ...over }, 'sst2');
const templateOf = (model: SentimentModel) => desiredDraft(model, CLUSTER).podTemplate;
const hashOf = (model: SentimentModel) => templateOf(model).metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH] ?? '';
const choice = (model: SentimentModel, strategy: RolloutChoice['strategy'], reason: string): RolloutChoice => ({ strategy, reason, message: 'earlier', templateHash: hashOf(model) });

/** The live Deployment after a finished rollout of the model's template with `strategy`. */
function rolledOut(model: SentimentModel, strategy: RolloutChoice['strategy'] = 'Surge'): V1Deployment {
  const n = model.spec.replicas;
  return {
    ...makeDeployment(model, templateOf(model), strategy),
    status: {
      observedGeneration: model.metadata.generation, replicas: n, readyReplicas: n, updatedReplicas: n, availableReplicas: n,
      conditions: [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
    },
  };
}

function pod(model: SentimentModel, name: string, state: 'ready' | 'terminating' | 'unschedulable'): V1Pod {
  const meta = { name, uid: `uid-${name}`, labels: { [LABEL_MODEL]: model.metadata.name }, annotations: { [ANNOTATION_TEMPLATE_HASH]: hashOf(model) } };
  if (state === 'unschedulable') {
    return { metadata: meta, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }] } };
  }
  return {
    metadata: { ...meta, ...(state === 'terminating' ? { deletionTimestamp: new Date(NOW - 1000) } : {}) },
    spec: { nodeName: 'node-1', containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: state === 'ready' ? 'True' : 'False' }] },
  };
}

interface Case {
  name: string;
  model: SentimentModel;
  observed?: Partial<Observed>;
  previous?: Partial<Previous>;
  want: Summary;
}

interface Summary {
  rollout: string;
  /** The Deployment's maxSurge/maxUnavailable. */
  rolling: string;
  /** Condition type: status/reason. */
  conditions: Record<string, string>;
  recheckAfterMs?: number;
  releasedAt?: number;
  boundPods?: string[];
}

const summary = (p: Plan): Summary => {
  const rolling = p.desired.deployment.spec?.strategy?.rollingUpdate;
  return {
    rollout: `${p.rollout.strategy}/${p.rollout.reason}`,
    rolling: `${rolling?.maxSurge}/${rolling?.maxUnavailable}`,
    conditions: Object.fromEntries((p.status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`])),
    ...(p.recheckAfterMs !== undefined ? { recheckAfterMs: p.recheckAfterMs } : {}),
    ...(p.settle.releasedAt !== undefined ? { releasedAt: p.settle.releasedAt } : {}),
    ...(p.settle.boundPods.size > 0 ? { boundPods: [...p.settle.boundPods] } : {}),
  };
};

const run = (c: Pick<Case, 'model' | 'observed' | 'previous'>, now = NOW) => plan(
  c.model,
  { ...CLUSTER, deployment: undefined, pods: [], nodes: cache([]), scheduledPods: cache([]), ...c.observed },
  { status: undefined, rollout: undefined, settle: { boundPods: new Set() }, ...c.previous },
  now,
);

const CREATING = { Ready: 'False/Creating', Progressing: 'True/Creating', Degraded: 'False/AsExpected' };
const SERVING = { Ready: 'True/MinimumReplicasAvailable', Progressing: 'False/RolloutComplete', Degraded: 'False/AsExpected' };
const cpu = cpuModel();
const gpu = gpuModel();
const single = gpuModel({ replicas: 1 });
const newImage = gpuModel({ model: { image: { reference: 'ghcr.io/example/sst2-model:2.0.0' } } });
const ready = [pod(cpu, 'a', 'ready'), pod(cpu, 'b', 'ready')];
const surging = choice(cpu, 'Surge', 'NoGPU');

const cases: Case[] = [
  {
    name: 'a new CPU model: surge, creating',
    model: cpu,
    want: { rollout: 'Surge/NoGPU', rolling: '1/0', conditions: CREATING },
  },
  {
    name: 'the user\'s strategy, whatever was decided before',
    model: cpuModel({ rollout: { strategy: 'Replace', maxUnavailable: 2 } }),
    previous: { rollout: choice(cpu, 'Surge', 'NoGPU') },
    want: { rollout: 'Replace/UserSpecified', rolling: '0/2', conditions: CREATING },
  },
  {
    name: 'a GPU model with a spare GPU: surge',
    model: gpu,
    observed: { nodes: cache([gpuNode('g', 3)]), scheduledPods: cache(gpuPods('g', 2)) },
    want: { rollout: 'Surge/SpareGPU', rolling: '1/0', conditions: CREATING },
  },
  {
    name: 'a GPU model without a spare GPU: replace',
    model: gpu,
    observed: { nodes: cache([gpuNode('g', 2)]), scheduledPods: cache(gpuPods('g', 2)) },
    want: { rollout: 'Replace/NoSpareGPU', rolling: '0/1', conditions: CREATING },
  },
  {
    name: 'a single GPU replica without a spare GPU: surge, and the new pod waits',
    model: single,
    observed: { nodes: cache([gpuNode('g', 1)]), scheduledPods: cache(gpuPods('g', 1)) },
    want: { rollout: 'Surge/LastReplica', rolling: '1/0', conditions: CREATING },
  },
  {
    name: 'the choice made for this template holds though a GPU has freed up',
    model: gpu,
    observed: { nodes: cache([gpuNode('g', 8)]), scheduledPods: cache([]) },
    previous: { rollout: choice(gpu, 'Replace', 'NoSpareGPU') },
    want: { rollout: 'Replace/NoSpareGPU', rolling: '0/1', conditions: CREATING },
  },
  {
    name: 'a new template decides again',
    model: newImage,
    observed: { deployment: rolledOut(gpu, 'Replace'), nodes: cache([gpuNode('g', 8)]), scheduledPods: cache([]) },
    previous: { rollout: choice(gpu, 'Replace', 'NoSpareGPU') },
    want: { rollout: 'Surge/SpareGPU', rolling: '1/0', conditions: { Ready: 'True/MinimumReplicasAvailable', Progressing: 'True/RolloutInProgress', Degraded: 'False/AsExpected' } },
  },
  {
    name: 'a choice never recorded in status: kept from the live Deployment',
    model: gpu,
    observed: { deployment: rolledOut(gpu, 'Replace'), nodes: cache([gpuNode('g', 8)]), scheduledPods: cache([]) },
    want: { rollout: 'Replace/KeptFromDeployment', rolling: '0/1', conditions: { ...SERVING, Progressing: 'True/RolloutInProgress' } },
  },
  {
    name: 'a model serving its template',
    model: cpu,
    observed: { deployment: rolledOut(cpu), pods: ready },
    previous: { rollout: surging },
    want: { rollout: 'Surge/NoGPU', rolling: '1/0', conditions: SERVING, boundPods: ['uid-a', 'uid-b'] },
  },
  {
    name: 'a pod of the model terminating: the scheduler settles, the waiting pod is no problem yet',
    model: cpu,
    observed: { deployment: rolledOut(cpu), pods: [...ready, pod(cpu, 'old', 'terminating'), pod(cpu, 'new', 'unschedulable')] },
    previous: { rollout: surging },
    want: {
      rollout: 'Surge/NoGPU', rolling: '1/0', conditions: SERVING,
      recheckAfterMs: SCHEDULER_SETTLE_MS, releasedAt: NOW, boundPods: ['uid-a', 'uid-b', 'uid-old'],
    },
  },
  {
    name: 'a bound pod gone since the last look counts as released',
    model: cpu,
    observed: { deployment: rolledOut(cpu), pods: ready },
    previous: { rollout: surging, settle: { boundPods: new Set(['uid-a', 'uid-b', 'uid-gone']) } },
    want: { rollout: 'Surge/NoGPU', rolling: '1/0', conditions: SERVING, recheckAfterMs: SCHEDULER_SETTLE_MS, releasedAt: NOW, boundPods: ['uid-a', 'uid-b'] },
  },
  {
    name: 'settling counts down from the release',
    model: cpu,
    observed: { deployment: rolledOut(cpu), pods: [...ready, pod(cpu, 'new', 'unschedulable')] },
    previous: { rollout: surging, settle: { boundPods: new Set(['uid-a', 'uid-b']), releasedAt: NOW - 5000 } },
    want: {
      rollout: 'Surge/NoGPU', rolling: '1/0', conditions: SERVING,
      recheckAfterMs: SCHEDULER_SETTLE_MS - 5000, releasedAt: NOW - 5000, boundPods: ['uid-a', 'uid-b'],
    },
  },
  {
    name: 'once settled, a pod still unschedulable is the problem',
    model: cpu,
    observed: { deployment: rolledOut(cpu), pods: [...ready, pod(cpu, 'new', 'unschedulable')] },
    previous: { rollout: surging, settle: { boundPods: new Set(['uid-a', 'uid-b']), releasedAt: NOW - SCHEDULER_SETTLE_MS } },
    want: {
      rollout: 'Surge/NoGPU', rolling: '1/0', conditions: { ...SERVING, Degraded: 'True/Unschedulable' }, boundPods: ['uid-a', 'uid-b'],
    },
  },
];

describe('plan', () => {
  it.each(cases)('$name', (c) => {
    expect(summary(run(c))).toEqual(c.want);
  });

  it('stamps a changed condition with the time passed in and keeps the time of an unchanged one', () => {
    const previous: SentimentModelStatus = {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable', message: '', lastTransitionTime: EARLIER },
        { type: 'Degraded', status: 'True', reason: 'Unschedulable', message: '', lastTransitionTime: EARLIER },
      ],
    };
    const { status } = run({ model: cpu, observed: { deployment: rolledOut(cpu), pods: ready }, previous: { status: previous, rollout: surging } });
    const times = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]));
    expect(times).toEqual({ Ready: EARLIER, Progressing: '2026-03-01T12:00:00Z', Degraded: '2026-03-01T12:00:00Z' });
  });

  it('builds the Deployment from the template it decided on, with the status naming that template', () => {
    const p = run({ model: gpu, observed: { nodes: cache([gpuNode('g', 2)]), scheduledPods: cache(gpuPods('g', 2)) } });
    expect(p.desired.deployment.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH]).toBe(hashOf(gpu));
    expect(p.rollout.templateHash).toBe(hashOf(gpu));
    expect(p.status.rollout).toBe(p.rollout);
    expect(p.status.revisions).toEqual({ rollingOutTo: expect.objectContaining({ templateHash: hashOf(gpu) }) });
  });

  it('lists the cluster only for a GPU model\'s new template', () => {
    const untouched = { list: () => expect.unreachable('listed the cluster') };
    expect(run({ model: cpu, observed: { nodes: untouched, scheduledPods: untouched } }).rollout.reason).toBe('NoGPU');
    expect(run({ model: gpu, observed: { nodes: untouched, scheduledPods: untouched }, previous: { rollout: choice(gpu, 'Surge', 'SpareGPU') } }).rollout.reason).toBe('SpareGPU');
  });
});
