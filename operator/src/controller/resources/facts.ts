/** What the reconciler learned about the cluster; builders read it and never look it up themselves. */
export interface ClusterFacts {
  /** OCI images can be mounted as volumes (the ImageVolume feature, with kubelet and runtime support). */
  imageVolumes: boolean;
  /** DNS suffix for the endpoint URL, usually cluster.local. */
  clusterDomain: string;
  /** What rollout.strategy Auto means right now, e.g. Replace when no spare GPU exists for a surge pod. */
  autoRollout: 'Surge' | 'Replace';
}
