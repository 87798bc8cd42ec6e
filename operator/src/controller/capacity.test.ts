import { describe, expect, it } from 'vitest';
import type { V1Container, V1Node, V1Pod, V1PodSpec, V1Taint } from '@kubernetes/client-node';
import { freeCapacity, nodeForCapacity, passedOver, podForCapacity, podRequest } from './capacity.js';

const GPU = 'nvidia.com/gpu';
const MIG = 'nvidia.com/mig-1g.10gb';
const GPU_TAINT: V1Taint = { key: GPU, value: 'present', effect: 'NoSchedule' };

// Shaped like the kwok nodes of the integration suites (test/support/controlplane.ts gpuNode).
function node(name: string, o: { allocatable?: Record<string, string>; labels?: Record<string, string>; taints?: V1Taint[]; ready?: boolean; unschedulable?: boolean } = {}): V1Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', ...o.labels } },
    spec: { taints: o.taints ?? [GPU_TAINT], ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: o.allocatable ?? { cpu: '32', memory: '256Gi', [GPU]: '4' },
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

const gpuContainer = (n: number, resource = GPU): V1Container => ({ name: 'c', resources: { limits: { [resource]: String(n) }, requests: { [resource]: String(n) } } });

function pod(nodeName: string | undefined, gpus: number, phase = 'Running', o: { resource?: string; terminating?: boolean } = {}): V1Pod {
  return {
    metadata: { name: `p-${Math.random().toString(36).slice(2)}`, namespace: 'other', ...(o.terminating ? { deletionTimestamp: new Date() } : {}) },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [gpuContainer(gpus, o.resource), { name: 'sidecar', resources: { requests: { cpu: '100m' } } }] },
    status: { phase },
  };
}

/** What the operator's pod template for a one-GPU model looks like (limits only, GPU toleration). */
const spec = (o: Partial<V1PodSpec> = {}, gpus = 1, resource = GPU): V1PodSpec => ({
  containers: [{ name: 'runtime', resources: { limits: { [resource]: String(gpus), cpu: '2' } } }],
  tolerations: [{ key: GPU, operator: 'Exists', effect: 'NoSchedule' }],
  ...o,
});

const free = (s: V1PodSpec, nodes: V1Node[], pods: V1Pod[] = [], resource = GPU) => Object.fromEntries(freeCapacity(s, resource, nodes, pods).map((r) => [r.node, r.free]));

describe('freeCapacity', () => {
  it('is allocatable minus what the non-terminal pods bound to each node request', () => {
    const pods = [pod('a', 1), pod('a', 2, 'Pending'), pod('a', 1, 'Succeeded'), pod('a', 1, 'Failed'), pod('b', 3), pod(undefined, 4, 'Pending')];
    expect(free(spec(), [node('a'), node('b'), node('c')], pods)).toEqual({ a: 1, b: 1, c: 4 });
  });

  it('counts pods being deleted, which hold their GPUs until they are gone', () => {
    expect(free(spec(), [node('a')], [pod('a', 4, 'Running', { terminating: true })])).toEqual({ a: 0 });
  });

  it('never goes below zero on an overcommitted node', () => {
    expect(free(spec(), [node('a', { allocatable: { [GPU]: '1' } })], [pod('a', 2)])).toEqual({ a: 0 });
  });

  it('leaves out nodes without the resource, not Ready, or cordoned', () => {
    const nodes = [node('cpu', { allocatable: { cpu: '64' }, taints: [] }), node('down', { ready: false }), node('cordoned', { unschedulable: true }), node('ok')];
    expect(free(spec(), nodes)).toEqual({ ok: 4 });
  });

  it('keeps to nodes matching the nodeSelector, GPU product included', () => {
    const nodes = [node('h100'), node('a100', { labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' } }), node('a100-pool', { labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB', pool: 'ml' } })];
    expect(free(spec({ nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' } }), nodes)).toEqual({ a100: 4, 'a100-pool': 4 });
    expect(free(spec({ nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB', pool: 'ml' } }), nodes)).toEqual({ 'a100-pool': 4 });
    expect(free(spec({ nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-B200' } }), nodes)).toEqual({});
  });

  it('keeps to nodes whose NoSchedule and NoExecute taints the pod tolerates', () => {
    const nodes = [
      node('plain'),
      node('dedicated', { taints: [GPU_TAINT, { key: 'dedicated', value: 'training', effect: 'NoSchedule' }] }),
      node('evicting', { taints: [{ key: 'maintenance', effect: 'NoExecute' }] }),
      node('preferred', { taints: [{ key: 'spot', value: 'true', effect: 'PreferNoSchedule' }] }),
    ];
    expect(free({ ...spec(), tolerations: [] }, nodes)).toEqual({ preferred: 4 });
    expect(free(spec(), nodes)).toEqual({ plain: 4, preferred: 4 });
    const tolerant = spec({ tolerations: [{ key: GPU, operator: 'Exists' }, { key: 'dedicated', operator: 'Equal', value: 'training', effect: 'NoSchedule' }, { key: 'maintenance', operator: 'Exists', effect: 'NoExecute' }] });
    expect(free(tolerant, nodes)).toEqual({ plain: 4, dedicated: 4, evicting: 4, preferred: 4 });
    const wrongValue = spec({ tolerations: [{ key: GPU, operator: 'Exists' }, { key: 'dedicated', value: 'inference' }] });
    expect(free(wrongValue, nodes)).toEqual({ plain: 4, preferred: 4 });
    const wrongEffect = spec({ tolerations: [{ key: GPU, operator: 'Exists' }, { key: 'maintenance', operator: 'Exists', effect: 'NoSchedule' }] });
    expect(free(wrongEffect, nodes)).toEqual({ plain: 4, preferred: 4 });
    expect(free(spec({ tolerations: [{ operator: 'Exists' }] }), nodes)).toEqual({ plain: 4, dedicated: 4, evicting: 4, preferred: 4 });
  });

  it('keeps to nodes the required node affinity allows', () => {
    const nodes = [node('a', { labels: { zone: 'z1', gen: '3' } }), node('b', { labels: { zone: 'z2', gen: '5' } }), node('c')];
    const affinity = (...nodeSelectorTerms: object[]) => spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } } });
    expect(free(affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }), nodes)).toEqual({ a: 4 });
    expect(free(affinity({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z1'] }] }), nodes)).toEqual({ b: 4, c: 4 });
    expect(free(affinity({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }), nodes)).toEqual({ c: 4 });
    expect(free(affinity({ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['4'] }] }), nodes)).toEqual({ b: 4 });
    expect(free(affinity({ matchExpressions: [{ key: 'gen', operator: 'Lt', values: ['4'] }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }), nodes))
      .toEqual({ a: 4, c: 4 });
    expect(free(affinity({ matchExpressions: [{ key: 'zone', operator: 'Exists' }, { key: 'gen', operator: 'In', values: ['5'] }] }), nodes)).toEqual({ b: 4 });
    expect(free(affinity({}), nodes)).toEqual({});
  });

  it('counts a MIG profile on its own, apart from whole GPUs', () => {
    const nodes = [node('mig', { allocatable: { [GPU]: '0', [MIG]: '7' } }), node('whole')];
    const pods = [pod('mig', 1, 'Running', { resource: MIG }), pod('mig', 1, 'Running', { resource: MIG }), pod('whole', 1)];
    expect(free(spec({}, 1, MIG), nodes, pods, MIG)).toEqual({ mig: 5 });
    expect(free(spec(), nodes, pods)).toEqual({ whole: 3 });
  });

  it('reads the same from nodes and pods cut down for the cache', () => {
    const nodes = [node('a', { labels: { zone: 'z1' } }), node('b', { taints: [{ key: 'x', effect: 'NoSchedule' }] }), node('c', { unschedulable: true })];
    const pods = [pod('a', 1), pod('a', 1, 'Succeeded'), pod('c', 2)];
    const s = spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] } } } });
    expect(freeCapacity(s, GPU, nodes.map(nodeForCapacity), pods.map(podForCapacity))).toEqual(freeCapacity(s, GPU, nodes, pods));
    expect(nodeForCapacity(nodes[0]!).status?.conditions).toEqual([{ type: 'Ready', status: 'True' }]);
  });
});

describe('passedOver', () => {
  it('names the selected nodes with the resource that are left out, and why', () => {
    const nodes = [
      node('ok'), node('down', { ready: false }), node('cordoned', { unschedulable: true }),
      node('dedicated', { taints: [GPU_TAINT, { key: 'dedicated', value: 'training', effect: 'NoSchedule' }] }),
      node('evicting', { taints: [{ key: 'maintenance', effect: 'NoExecute' }] }),
      node('cpu', { allocatable: { cpu: '64' }, taints: [] }),
      node('a100', { labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' }, ready: false }),
    ];
    const s = spec({ nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } });
    expect(passedOver(s, GPU, nodes)).toEqual([
      { node: 'cordoned', why: 'cordoned' },
      { node: 'dedicated', why: 'taint dedicated=training:NoSchedule not tolerated' },
      { node: 'down', why: 'not Ready' },
      { node: 'evicting', why: 'taint maintenance:NoExecute not tolerated' },
    ]);
    expect(freeCapacity(s, GPU, nodes, []).map((r) => r.node)).toEqual(['ok']);
  });
});

describe('podRequest', () => {
  it('reads limits where requests are not set, as the apiserver defaults them', () => {
    expect(podRequest(spec({}, 2), GPU)).toBe(2);
    expect(podRequest(undefined, GPU)).toBe(0);
  });

  it('sums the containers, takes the largest init container, adds sidecars and overhead', () => {
    const s: V1PodSpec = {
      initContainers: [gpuContainer(1), { ...gpuContainer(1), restartPolicy: 'Always' }, gpuContainer(4)],
      containers: [gpuContainer(1), gpuContainer(1)],
      overhead: { [GPU]: '1' },
    };
    // While the last init container runs: the sidecar's 1 + its 4 = 5, above 1 + 1 + sidecar 1 = 3 of the main phase.
    expect(podRequest(s, GPU)).toBe(6);
    expect(podRequest({ ...s, initContainers: s.initContainers?.slice(0, 2) }, GPU)).toBe(4);
  });

  it('reads decimal-suffixed whole quantities', () => {
    expect(podRequest({ containers: [gpuContainer(0), { name: 'x', resources: { limits: { [GPU]: '1k' } } }] }, GPU)).toBe(1000);
  });
});
