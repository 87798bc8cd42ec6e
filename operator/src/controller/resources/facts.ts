import type { RolloutChoice } from '../../api/v1alpha1/index.js';

/** What the reconciler learned about the cluster; builders read it and never look it up themselves. */
export interface ClusterFacts {
  /** OCI images can be mounted as volumes (the ImageVolume feature, with kubelet and runtime support). */
  imageVolumes: boolean;
  /** DNS suffix for the endpoint URL, usually cluster.local. */
  clusterDomain: string;
  /** The strategy of this pod template's rollout: the user's, or the operator's choice for Auto (see strategy.ts). */
  rolloutStrategy: RolloutChoice['strategy'];
}
