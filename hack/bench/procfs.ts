import { readdirSync, readFileSync } from 'node:fs';

// Linux reports /proc times in USER_HZ ticks, which is 100 on every mainstream kernel build.
const TICK = 0.01;

/** The fields of a /proc stat line after the parenthesized name, which may itself hold spaces. */
export function statFields(text: string): { name: string; fields: string[] } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  return { name: text.slice(open + 1, close), fields: text.slice(close + 2).trim().split(' ') };
}

/** utime + stime in seconds; fields[11] and [12] are the stat line's 14th and 15th. */
const cpuSeconds = (fields: string[]): number => (Number(fields[11]) + Number(fields[12])) * TICK;

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** CPU seconds used so far by each thread of `pid`, by thread id, with the thread's name. */
export function threadCpu(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    const text = readOrEmpty(`/proc/${pid}/task/${tid}/stat`);
    if (!text) continue;
    const { name, fields } = statFields(text);
    threads.set(Number(tid), { name, seconds: cpuSeconds(fields) });
  }
  return threads;
}

/** Cores' worth of CPU per thread name between two samples (threads of one name summed), busiest first. */
export function threadProfile(before: Map<number, { name: string; seconds: number }>, after: Map<number, { name: string; seconds: number }>, wallSeconds: number): { name: string; threads: number; cores: number }[] {
  const byName = new Map<string, { threads: number; seconds: number }>();
  for (const [tid, thread] of after) {
    const used = thread.seconds - (before.get(tid)?.seconds ?? 0);
    const entry = byName.get(thread.name) ?? { threads: 0, seconds: 0 };
    entry.threads++;
    entry.seconds += used;
    byName.set(thread.name, entry);
  }
  return [...byName].map(([name, e]) => ({ name, threads: e.threads, cores: e.seconds / wallSeconds })).sort((a, b) => b.cores - a.cores);
}

/** CPU seconds used so far by every process in process group `pgid` (a server and the workers it forked). */
export function groupCpu(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = readOrEmpty(`/proc/${entry}/stat`);
    if (!text) continue;
    const { fields } = statFields(text);
    // fields[2] is the stat line's 5th field, the process group.
    if (Number(fields[2]) === pgid) total += cpuSeconds(fields);
  }
  return total;
}
