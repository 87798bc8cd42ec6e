import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import { redactUrl } from '#contract/model-fetch.js';
import {
  ANNOTATION_MODEL_SOURCE, ANNOTATION_QUANTIZATION, ANNOTATION_RUNTIME_IMAGE, ANNOTATION_TEMPLATE_HASH,
  type Revision, type SentimentModelStatus,
} from '../api/v1alpha1/index.js';

/** The revision a pod template (or a pod made from it) carries in its annotations. */
export function revisionOf(meta: V1ObjectMeta | undefined): Revision | undefined {
  const a = meta?.annotations ?? {};
  const templateHash = a[ANNOTATION_TEMPLATE_HASH];
  if (!templateHash) return undefined;
  const model = a[ANNOTATION_MODEL_SOURCE];
  // Pods made by earlier operator builds carry a URL source's full URL, a presigned signature included.
  const shownModel = model?.includes('://') ? redactUrl(model) : model;
  const optional = { model: shownModel, runtimeImage: a[ANNOTATION_RUNTIME_IMAGE], quantization: a[ANNOTATION_QUANTIZATION] };
  return { templateHash, ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) };
}

/**
 * Which revision serves, from the pods in the Service's endpoints (ready and not terminating),
 * and which one is on its way. An older revision counts as serving while any of its pods is
 * ready, so `serving` switches to the new revision when the old one's last pod leaves, the way
 * a client sees it; among several older ones (a rollout replaced mid-way), the one with the
 * most ready pods. `rollingOutTo` is the desired revision until it is the one serving.
 */
export function revisions(desired: Revision, pods: readonly V1Pod[], replicas: number): NonNullable<SentimentModelStatus['revisions']> {
  const ready = new Map<string, { count: number; revision: Revision }>();
  for (const pod of pods) {
    const revision = revisionOf(pod.metadata);
    if (!revision || pod.metadata?.deletionTimestamp || !pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    const seen = ready.get(revision.templateHash);
    ready.set(revision.templateHash, { count: (seen?.count ?? 0) + 1, revision });
  }
  const older = [...ready.values()].filter((r) => r.revision.templateHash !== desired.templateHash)
    .sort((a, b) => b.count - a.count || a.revision.templateHash.localeCompare(b.revision.templateHash));
  const serving = older[0]?.revision ?? (ready.has(desired.templateHash) ? desired : undefined);
  const rolling = replicas > 0 && serving?.templateHash !== desired.templateHash;
  return { ...(serving ? { serving } : {}), ...(rolling ? { rollingOutTo: desired } : {}) };
}
