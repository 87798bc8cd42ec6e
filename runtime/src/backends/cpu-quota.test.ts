import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuQuotaCores } from './cpu-quota.js';

const files = (contents: Record<string, string>) => (file: string): string | undefined => contents[file];

describe('cpuQuotaCores', () => {
  it('reads the cgroup v2 quota, never above the CPUs the process may run on', () => {
    expect(cpuQuotaCores(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(Math.min(0.5, availableParallelism()));
    expect(cpuQuotaCores(files({ '/sys/fs/cgroup/cpu.max': `${1000 * 100000} 100000\n` }))).toBe(availableParallelism());
  });

  it('reads the cgroup v1 quota', () => {
    expect(cpuQuotaCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '25000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(0.25);
  });

  it('counts the CPUs where no quota is set', () => {
    expect(cpuQuotaCores(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }))).toBe(availableParallelism());
    expect(cpuQuotaCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(availableParallelism());
    expect(cpuQuotaCores(files({}))).toBe(availableParallelism());
  });
});
