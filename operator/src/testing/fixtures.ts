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
