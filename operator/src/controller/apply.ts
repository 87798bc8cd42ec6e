import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../api/v1alpha1/index.js';
import type { KubeWriter } from '../kube/writer.js';
import { findDrift, repairPatch, type Drift } from './drift.js';
import { childKey, type AppliedChild } from './memory.js';
import { stableHash } from './resources/hash.js';

export type ApplyOutcome = 'created' | 'updated' | 'corrected' | 'unchanged';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** What someone else had changed, now reverted. */
  drift?: Drift;
}

/**
 * The one apply path for every child kind. Each applied object carries a hash of itself in an
 * annotation: a live child carrying another hash is applied (the spec changed). One carrying the
 * current hash is checked for drift through its managedFields (drift.ts), never by comparing
 * values, so fields the apiserver defaults or normalizes can never make a no-op look like a
 * change and a resync of an untouched cluster writes nothing. Drift is reverted by server-side
 * apply with force, preceded, when someone added fields to a part we own whole, by a JSON patch
 * putting that part back.
 */
export class Applier {
  constructor(private readonly writer: KubeWriter) {}

  /** `applied`: our last write of each of the model's children this term (memory.ts), which the cache shows a watch event late. */
  async apply(applied: Map<string, AppliedChild>, desired: KubernetesObject, live: KubernetesObject | undefined): Promise<ApplyResult> {
    const hash = stableHash(desired);
    const child = childKey(desired.kind, desired.metadata?.name);
    const liveVersion = live?.metadata?.resourceVersion ?? '';
    const last = applied.get(child);
    // The cache still shows the object as it was before our write: nothing to judge by yet.
    if (last?.hash === hash && last.versionsBefore.has(liveVersion)) return { outcome: 'unchanged' };
    const target = { ...desired, metadata: { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [ANNOTATION_APPLIED_HASH]: hash } } };
    const current = live?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH] === hash;
    const drift = live && driftToRevert(target, live, current);
    if (current && !drift) return { outcome: 'unchanged' };
    const versionsBefore = new Set([liveVersion]);
    if (live && drift?.added.length) versionsBefore.add(await this.writer.patch(target, repairPatch(target, live)));
    await this.writer.apply(target);
    applied.set(child, { hash, versionsBefore });
    if (!live) return { outcome: 'created' };
    return drift ? { outcome: 'corrected', drift } : { outcome: 'updated' };
  }
}

/**
 * A child applied from an older spec lacks what the new one adds, which is no drift. Then only
 * what others added counts, which the apply about to happen would not remove, and our metadata
 * (labels, the hash annotation, the owner reference), which every spec applies alike.
 */
function driftToRevert(target: KubernetesObject, live: KubernetesObject, current: boolean): Drift | undefined {
  const drift = findDrift(target, live);
  if (current || !drift) return drift;
  const changed = drift.changed.filter((p) => p.startsWith('metadata.'));
  return changed.length + drift.added.length > 0 ? { changed, added: drift.added } : undefined;
}
