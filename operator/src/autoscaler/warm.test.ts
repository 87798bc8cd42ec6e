import type { Static } from 'typebox';
import { describe, expect, it } from 'vitest';
import type { WarmWindow } from '../api/v1alpha1/spec.js';
import { inWarmWindow } from './warm.js';

type Window = Static<typeof WarmWindow>;

const at = (iso: string) => Date.parse(iso);
const officeHours: Window = { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '08:00', end: '18:00', timeZone: 'Europe/Berlin' };
const window = (w: Partial<Window>): Window => ({ ...officeHours, ...w });

describe('inWarmWindow', () => {
  it('is open from start (included) to end (excluded) on the listed days, in the window\'s time zone', () => {
    const w = [window({})];
    // 2026-12-03 is a Thursday; Berlin is UTC+1 in December.
    expect(inWarmWindow(w, at('2026-12-03T06:59:59Z'))).toBe(false);
    expect(inWarmWindow(w, at('2026-12-03T07:00:00Z'))).toBe(true);
    expect(inWarmWindow(w, at('2026-12-03T16:59:00Z'))).toBe(true);
    expect(inWarmWindow(w, at('2026-12-03T17:00:00Z'))).toBe(false);
    // Saturday.
    expect(inWarmWindow(w, at('2026-12-05T10:00:00Z'))).toBe(false);
  });

  it('follows daylight saving: 08:00 in Berlin is 06:00 UTC in July', () => {
    const w = [window({})];
    expect(inWarmWindow(w, at('2026-07-02T06:00:00Z'))).toBe(true);
    expect(inWarmWindow(w, at('2026-07-02T05:59:00Z'))).toBe(false);
  });

  it('runs past midnight when end is at or before start, across the week\'s end too', () => {
    const night = [window({ days: ['Sun'], start: '22:00', end: '02:00', timeZone: 'UTC' })];
    expect(inWarmWindow(night, at('2026-12-06T23:30:00Z'))).toBe(true); // Sunday
    expect(inWarmWindow(night, at('2026-12-07T01:59:00Z'))).toBe(true); // Monday, still Sunday's window
    expect(inWarmWindow(night, at('2026-12-07T02:00:00Z'))).toBe(false);
    expect(inWarmWindow(night, at('2026-12-06T01:00:00Z'))).toBe(false); // Saturday's night: no window
    expect(inWarmWindow([window({ days: ['Mon'], start: '00:00', end: '00:00', timeZone: 'UTC' })], at('2026-12-07T23:59:00Z'))).toBe(true);
  });

  it('keeps a window in an unknown time zone closed and says which zone', () => {
    const unknown: string[] = [];
    expect(inWarmWindow([window({ timeZone: 'Mars/Olympus_Mons' })], at('2026-12-03T10:00:00Z'), (zone) => unknown.push(zone))).toBe(false);
    expect(unknown).toEqual(['Mars/Olympus_Mons']);
    expect(inWarmWindow(undefined, at('2026-12-03T10:00:00Z'))).toBe(false);
    expect(inWarmWindow([], at('2026-12-03T10:00:00Z'))).toBe(false);
  });
});
