/** What the operator knows of the cluster it runs in; builders read it and never look it up themselves. */
export interface ClusterFacts {
  /** OCI images can be mounted as volumes (the ImageVolume feature, with kubelet and runtime support). */
  imageVolumes: boolean;
  /** DNS suffix for the endpoint URL, usually cluster.local. */
  clusterDomain: string;
}
