import type { ObjectCache, V1Deployment, V1Node, V1Pod, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { RolloutChoice, SentimentModel } from '../api/v1alpha1/index.js';
import { podTemplateHash, templateHashOf } from './resources/deployment.js';
import { freeCapacity, passedOver, podRequest } from './capacity.js';

/** Nodes named in a rollout message at most; the rest are counted. */
const MAX_NAMED_NODES = 5;

/** status.rollout.reason values. */
export const RolloutReason = {
  UserSpecified: 'UserSpecified',
  NoGPU: 'NoGPU',
  SpareGPU: 'SpareGPU',
  NoSpareGPU: 'NoSpareGPU',
  LastReplica: 'LastReplica',
  KeptFromDeployment: 'KeptFromDeployment',
} as const;

/**
 * The choice already in force for the desired pod template, if any. Auto decides once per pod
 * template, when its rollout starts, and keeps the choice until the template changes: the
 * rollout's own pods use up and free the spare capacity, and re-deciding on that would flip the
 * Deployment's strategy mid-rollout. A user's strategy needs no memory and always applies.
 */
export function standingChoice(model: SentimentModel, desired: V1PodTemplateSpec, previous: RolloutChoice | undefined, live: V1Deployment | undefined): RolloutChoice | undefined {
  const templateHash = podTemplateHash(desired);
  const { strategy } = model.spec.rollout;
  if (strategy !== 'Auto') return { strategy, reason: RolloutReason.UserSpecified, message: `spec.rollout.strategy is ${strategy}`, templateHash };
  if (previous?.templateHash === templateHash && previous.reason !== RolloutReason.UserSpecified) return previous;
  // The status write after the Deployment's was lost (a crash, a new leader): keep what the Deployment already does.
  if (live && templateHashOf(live) === templateHash) {
    const surge = live.spec?.strategy?.rollingUpdate?.maxSurge !== 0;
    return {
      strategy: surge ? 'Surge' : 'Replace', reason: RolloutReason.KeptFromDeployment,
      message: 'the Deployment already rolls out this pod template this way; kept until the template changes', templateHash,
    };
  }
  return undefined;
}

/**
 * Auto for a new pod template. Surging keeps every replica serving but needs room for one more
 * pod: for a GPU model, a node that the pod may land on with a pod's worth of the GPU resource
 * free. Without room, replacing pods one at a time still keeps the others serving, except with
 * a single replica, where that would stop serving altogether: then the surge pod waits Pending
 * until a GPU frees up, and the old pod serves meanwhile. The caches are listed only for GPU
 * models, as listing every bound pod of the cluster is not free.
 */
export function decideAuto(model: SentimentModel, desired: V1PodTemplateSpec, nodes: Pick<ObjectCache<V1Node>, 'list'>, pods: Pick<ObjectCache<V1Pod>, 'list'>): RolloutChoice {
  const templateHash = podTemplateHash(desired);
  const { gpu } = model.spec.resources;
  const choice = (strategy: RolloutChoice['strategy'], reason: string, message: string) => ({ strategy, reason, message, templateHash });
  if (gpu.count === 0) return choice('Surge', RolloutReason.NoGPU, 'CPU-only pods: a surge pod needs no spare GPU');

  const podSpec = desired.spec;
  const resource = gpu.resourceName;
  const need = podRequest(podSpec, resource);
  const clusterNodes = nodes.list();
  const rooms = podSpec ? freeCapacity(podSpec, resource, clusterNodes, pods.list()) : [];
  const best = rooms.reduce<(typeof rooms)[number] | undefined>((a, b) => (a && a.free >= b.free ? a : b), undefined);
  const total = rooms.reduce((sum, r) => sum + r.free, 0);
  const where = `${total} ${resource} free on ${rooms.length} node(s) the pods may use`;
  if (best && best.free >= need) {
    return choice('Surge', RolloutReason.SpareGPU, `node ${best.node} has ${best.free} ${resource} free for a surge pod needing ${need} (${where})`);
  }
  const none = `no node the pods may use has ${need} ${resource} free (${where}${passedOverText(podSpec, resource, clusterNodes)})`;
  if (model.spec.replicas > 1) {
    return choice('Replace', RolloutReason.NoSpareGPU, `${none}: each old pod stops before its successor starts (maxSurge 0)`);
  }
  return choice('Surge', RolloutReason.LastReplica, `${none}, and replacing the only replica would stop serving: the new pod waits Pending until ${need} ${resource} frees up`);
}

function passedOverText(podSpec: V1PodSpec | undefined, resource: string, nodes: readonly V1Node[]): string {
  const skipped = podSpec ? passedOver(podSpec, resource, nodes) : [];
  if (skipped.length === 0) return '';
  const named = skipped.slice(0, MAX_NAMED_NODES).map((s) => `${s.node} (${s.why})`).join(', ');
  const more = skipped.length > MAX_NAMED_NODES ? ` and ${skipped.length - MAX_NAMED_NODES} more` : '';
  return `; not counted: ${named}${more}`;
}
