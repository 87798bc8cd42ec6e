import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Cores this process may use: the container's CFS quota (cgroup v2 `cpu.max`, or v1's
 * `cfs_quota_us / cfs_period_us`) where one is set, never more than the CPUs it may run on.
 * Node and onnxruntime count the host's cores, which in a pod with a 2-CPU limit on a 64-core
 * node would start 64 threads that the quota then throttles.
 */
export function cpuQuotaCores(read: (file: string) => string | undefined = readOrUndefined): number {
  const cpus = availableParallelism();
  const quota = quotaFromCgroup(read);
  return quota === undefined ? cpus : Math.min(cpus, quota);
}

function quotaFromCgroup(read: (file: string) => string | undefined): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2) return ratio(v2[0], v2[1]);
  return ratio(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim(), read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
}

/** "max" (v2) or -1 (v1) mean no quota. */
function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (!(q > 0) || !(p > 0)) return undefined;
  return q / p;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
