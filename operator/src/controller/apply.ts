import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../api/v1alpha1/index.js';
import type { KubeWriter } from '../kube/writer.js';
import { childKey } from './memory.js';
import { stableHash } from './resources/hash.js';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/**
 * The one apply path for every child kind. Each applied object carries a hash of itself in an
 * annotation, and a child whose live copy carries the hash of what we want now is left alone;
 * only our own desired object is hashed, never the live one, so fields the apiserver defaults or
 * normalizes (quantities, probe defaults, clusterIP) can never make a no-op look like a change.
 * The price: a hand edit of a field we own survives until the desired object next changes,
 * which is when server-side apply (force) takes the field back.
 */
export class Applier {
  constructor(private readonly writer: KubeWriter) {}

  /** `applied`: the hashes applied to the model's children this term (memory.ts), which the cache shows a watch event late. */
  async apply(applied: Map<string, string>, desired: KubernetesObject, live: KubernetesObject | undefined): Promise<ApplyOutcome> {
    const hash = stableHash(desired);
    const child = childKey(desired.kind, desired.metadata?.name);
    if (applied.get(child) === hash || live?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH] === hash) return 'unchanged';
    const metadata = { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [ANNOTATION_APPLIED_HASH]: hash } };
    await this.writer.apply({ ...desired, metadata });
    applied.set(child, hash);
    return live ? 'updated' : 'created';
  }
}
