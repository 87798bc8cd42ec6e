import type { MaxWindow, MetricWindow } from '../api/v1alpha1/index.js';

/**
 * Windows over time as plain data (their schema is in api/v1alpha1/status.ts), so the autoscaler
 * state they live in can be persisted in the SentimentModel status and a restarted (or newly
 * elected) operator resumes where it was. Time is always passed in as epoch milliseconds;
 * nothing here reads a clock.
 */

const BUCKET_MS = 1000;

/**
 * Adds an observation at `now` and drops buckets older than `keepSeconds`.
 * A clock that steps back (another leader, NTP) merges into the newest bucket rather than
 * reordering history.
 */
export function record(window: MetricWindow, now: number, value: number, keepSeconds: number): MetricWindow {
  const last = window.at(-1);
  const at = Math.max(bucketStart(now), last?.at ?? -Infinity);
  const cutoff = at - keepSeconds * BUCKET_MS;
  const kept = window.filter((b) => b.at > cutoff && b.at !== at);
  const same = last?.at === at ? last : undefined;
  return [...kept, { at, sum: (same?.sum ?? 0) + value, n: (same?.n ?? 0) + 1 }];
}

/**
 * Mean over the seconds of the last `seconds` that have data, each second weighing the same.
 * Seconds without an observation are skipped, not read as zero: a missed scrape (operator
 * restart, slow tick) says nothing about load, and zeros there would look like a dip and
 * scale down. Undefined when the window holds no data at all.
 */
export function average(window: MetricWindow, now: number, seconds: number): number | undefined {
  const cutoff = bucketStart(now) - seconds * BUCKET_MS;
  let total = 0;
  let buckets = 0;
  for (const b of window) {
    if (b.at <= cutoff) continue;
    total += b.sum / b.n;
    buckets++;
  }
  return buckets === 0 ? undefined : total / buckets;
}

/**
 * Records `value` at `now` and returns the window and its maximum over the last `seconds`. The
 * window keeps a value only while it can still be the maximum: a newer value at least as large
 * makes older ones irrelevant, so the list is strictly decreasing in value and stays a handful of
 * entries however long the window.
 */
export function recordMax(window: MaxWindow, now: number, value: number, seconds: number): { window: MaxWindow; max: number } {
  const cutoff = now - seconds * 1000;
  const kept = window.filter((e) => e.at > cutoff && e.value > value);
  const next = [...kept, { at: now, value }];
  return { window: next, max: next[0]!.value };
}

function bucketStart(now: number): number {
  return Math.floor(now / BUCKET_MS) * BUCKET_MS;
}
