import { readFileSync } from 'node:fs';
import { statFields } from './procfs.js';

/** Nearest-rank percentile of an unsorted sample, in the sample's unit. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Below this many cores used by other processes a try counts as undisturbed. */
const UNDISTURBED = 0.15;

export interface Patience {
  /** Most measured tries per row; stops at the first undisturbed one. */
  tries: number;
  /** Seconds to wait, before each try, for the machine to go idle. */
  quietWait: number;
}

/**
 * Measures until a try is undisturbed by other processes, keeping the least disturbed one.
 * Chosen on the disturbance, not on the result, so retrying does not just pick the luckiest number.
 */
export async function measureQuietly<T extends { cpu: { other: number } }>({ tries, quietWait }: Patience, measure: () => Promise<T>): Promise<T> {
  let best: T | undefined;
  for (let i = 0; i < tries && !(best && best.cpu.other < UNDISTURBED); i++) {
    if (quietWait > 0) await waitForQuiet(quietWait);
    const row = await measure();
    if (!best || row.cpu.other < best.cpu.other) best = row;
  }
  return best!;
}

export interface CpuSample {
  at: number;
  /** CPU seconds used by this process (the load generator, when it runs). */
  self: number;
  /** CPU seconds used by the server child, all threads; NaN where /proc is unavailable. */
  child: number;
  /** Busy CPU seconds of the whole machine, every process; NaN where /proc is unavailable. */
  machine: number;
}

// Linux reports /proc times in USER_HZ ticks, which is 100 on every mainstream kernel build.
const TICK = 0.01;

/**
 * The machine has few cores shared by the server, the load generator and whatever else runs;
 * without knowing who used the CPU a low number cannot be explained.
 */
export function cpuSample(childPid?: number): CpuSample {
  const usage = process.cpuUsage();
  return { at: performance.now(), self: (usage.user + usage.system) / 1e6, child: childTicks(childPid) * TICK, machine: machineBusyTicks() * TICK };
}

/** Share of one core used per party between two samples (1.0 = one full core). */
export function cpuShare(a: CpuSample, b: CpuSample): { client: number; server: number; other: number } {
  const wall = (b.at - a.at) / 1000;
  const client = (b.self - a.self) / wall;
  const server = (b.child - a.child) / wall;
  return { client, server, other: (b.machine - a.machine) / wall - client - server };
}

/**
 * Other work on a small shared machine (builds, test runs) halves either side's numbers at
 * random; waiting for a lull before a measured run keeps its effect out of the table.
 * Returns the last reading, in cores busy.
 */
export async function waitForQuiet(maxSeconds: number, threshold = 0.3): Promise<number> {
  const end = performance.now() + maxSeconds * 1000;
  let busy = Number.NaN;
  while (performance.now() < end) {
    const before = machineBusyTicks();
    await new Promise((resolve) => setTimeout(resolve, 500));
    busy = ((machineBusyTicks() - before) * TICK) / 0.5;
    if (!(busy >= threshold)) break;
  }
  return busy;
}

/** CPU ticks of a process and its live children (the serving processes of server.processes > 1). */
function childTicks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const { fields } = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    // A child that exits between the two reads counts as 0 rather than spoiling the sum.
    return Number(fields[11]) + Number(fields[12]) + children.reduce((sum, child) => sum + (childTicks(child) || 0), 0); // utime, stime
  } catch {
    return Number.NaN;
  }
}

function machineBusyTicks(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return user + nice + system + irq + softirq + steal;
  } catch {
    return Number.NaN;
  }
}

export interface ServerSample {
  at: number;
  batches: number;
  batchedTexts: number;
  inferenceSeconds: number;
  tokenizeSeconds: number;
}

/** The server's own counters split its time between tokenizing, inference and the rest (HTTP, queue). */
export async function serverSample(url: string): Promise<ServerSample> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split('\n');
  const value = (name: string): number => Number(lines.find((line) => line.startsWith(`${name} `))?.slice(name.length + 1) ?? Number.NaN);
  return {
    at: performance.now(),
    batches: value('sentiment_runtime_batch_size_count'),
    batchedTexts: value('sentiment_runtime_batch_size_sum'),
    inferenceSeconds: value('sentiment_runtime_inference_duration_seconds_sum'),
    tokenizeSeconds: value('sentiment_runtime_tokenization_duration_seconds_sum'),
  };
}
