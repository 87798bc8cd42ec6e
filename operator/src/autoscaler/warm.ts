import type { Static } from 'typebox';
import type { WarmWindow } from '../api/v1alpha1/spec.js';

type Window = Static<typeof WarmWindow>;

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Minutes since Monday 00:00 in `timeZone` at `now`; undefined for a zone the runtime does not know. */
function weekMinute(now: number, timeZone: string): number | undefined {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  } catch {
    return undefined;
  }
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = DAYS.indexOf(part('weekday') as (typeof DAYS)[number]);
  return day < 0 ? undefined : day * MINUTES_PER_DAY + Number(part('hour')) * 60 + Number(part('minute'));
}

/**
 * Whether `now` falls in one of the windows: from `start` on one of its days to `end`, the same
 * day or (end at or before start) the next, in the window's time zone, so daylight saving moves
 * the window with the wall clock. A zone this process does not know is reported through
 * `unknownZone` and keeps its window closed: minReplicas holds, as it would without the window.
 */
export function inWarmWindow(windows: readonly Window[] | undefined, now: number, unknownZone: (zone: string) => void = () => {}): boolean {
  for (const w of windows ?? []) {
    const at = weekMinute(now, w.timeZone);
    if (at === undefined) {
      unknownZone(w.timeZone);
      continue;
    }
    const start = minutes(w.start);
    let length = minutes(w.end) - start;
    if (length <= 0) length += MINUTES_PER_DAY;
    for (const day of w.days) {
      const from = DAYS.indexOf(day) * MINUTES_PER_DAY + start;
      // Modulo the week: Sunday's window running past midnight ends on Monday.
      if ((at - from + MINUTES_PER_WEEK) % MINUTES_PER_WEEK < length) return true;
    }
  }
  return false;
}
