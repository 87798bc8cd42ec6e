import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../api/v1alpha1/index.js';
import { stableHash } from './resources/hash.js';
import type { KubeWriter } from '../kube/writer.js';

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
  /**
   * Hashes applied in this leadership term, per model key and child: the informer cache shows
   * our own write only after its watch event arrives, and a reconcile in between must not apply
   * (or announce) the same object again. Like client-go's controller expectations, an entry
   * holds until the cache shows the child deleted.
   */
  private readonly applied = new Map<string, Map<string, string>>();

  constructor(private readonly writer: KubeWriter) {}

  async apply(modelKey: string, desired: KubernetesObject, live: KubernetesObject | undefined): Promise<ApplyOutcome> {
    const hash = stableHash(desired);
    const child = `${desired.kind}/${desired.metadata?.name}`;
    const mine = this.applied.get(modelKey);
    if (mine?.get(child) === hash || live?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH] === hash) return 'unchanged';
    const metadata = { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [ANNOTATION_APPLIED_HASH]: hash } };
    await this.writer.apply({ ...desired, metadata });
    if (mine) mine.set(child, hash);
    else this.applied.set(modelKey, new Map([[child, hash]]));
    return live ? 'updated' : 'created';
  }

  /** The cache saw the child deleted: the next reconcile must apply it again. */
  childDeleted(modelKey: string, kind: string, name: string): void {
    this.applied.get(modelKey)?.delete(`${kind}/${name}`);
  }

  /** Drops what we remember about a model that is gone. */
  forget(modelKey: string): void {
    this.applied.delete(modelKey);
  }
}
