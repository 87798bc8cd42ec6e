import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Value } from 'typebox/value';
import { API_VERSION, KIND, SentimentModelSpec, type SentimentModel } from '../api/v1alpha1/index.js';

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export const RUNTIME_IMAGE = 'ghcr.io/example/sentiment-runtime:0.1.0';

/**
 * A SentimentModel as the reconciler would read it: schema defaults applied the way the
 * apiserver applies them. Throws on a spec the schema rejects, so a broken fixture fails loudly.
 */
export function sentimentModel(spec: DeepPartial<SentimentModelSpec> = {}, name = 'demo'): SentimentModel {
  const input = {
    model: { image: { reference: 'ghcr.io/example/sst2-model:1.0.0' } },
    ...structuredClone(spec),
    runtime: { image: RUNTIME_IMAGE, ...structuredClone(spec.runtime) },
  };
  const defaulted = Value.Default(SentimentModelSpec, input);
  if (!Value.Check(SentimentModelSpec, defaulted)) {
    const errors = [...Value.Errors(SentimentModelSpec, defaulted)].map((e) => `${e.instancePath} ${e.message}`);
    throw new Error(`invalid fixture spec: ${errors.join('; ')}`);
  }
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: 'ml', uid: `uid-${name}`, generation: 1 },
    spec: defaulted,
  };
}

const GPU = 'nvidia.com/gpu';

/** A Ready GPU node as the NVIDIA GPU operator labels and taints it. */
export function gpuNode(name: string, gpus: number, product = 'NVIDIA-H100-80GB-HBM3'): V1Node {
  return {
    metadata: { name, labels: { 'nvidia.com/gpu.product': product } },
    spec: { taints: [{ key: GPU, value: 'present', effect: 'NoSchedule' }] },
    status: { allocatable: { [GPU]: String(gpus) }, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** n running pods on the node, one GPU each. */
export const gpuPods = (nodeName: string, n: number): V1Pod[] =>
  Array.from({ length: n }, (_, i) => ({ metadata: { name: `p${i}` }, spec: { nodeName, containers: [{ name: 'c', resources: { requests: { [GPU]: '1' } } }] }, status: { phase: 'Running' } }));

/** An informer cache, as far as listing goes. */
export const cache = <T>(items: T[]) => ({ list: () => items });
