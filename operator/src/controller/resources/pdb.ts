import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { SentimentModel } from '../../api/v1alpha1/index.js';
import { childMeta, childNames, selectorLabels } from './names.js';

/**
 * maxUnavailable 1 is the replica-derived budget without naming the replica count: the disruption
 * controller reads the Deployment's current scale, so it needs no rewrite when the autoscaler or
 * `kubectl scale` changes replicas. With 1 replica it allows evicting that pod, because a budget
 * that protects a single pod would block every node drain forever; with n >= 2 it keeps n-1 pods
 * ready, so a voluntary disruption never takes the last ready one. AlwaysAllow lets pods that are
 * not ready (crash-looping, still loading) be evicted, since they serve nothing and would
 * otherwise use up the budget and stall drains.
 */
export function makePDB(model: SentimentModel): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(model, childNames(model).pdb),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(model) }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  };
}
