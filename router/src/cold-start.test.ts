import { describe, expect, it } from 'vitest';
import { boundedText, readSample } from '#contract/metrics-text.js';
import { coldStartParts, runtimeStartup, scheduledAt } from './cold-start.js';

const T0 = Date.parse('2026-12-03T06:00:00.400Z');
const sum = (parts: Record<string, number | undefined>) => Object.values(parts).reduce((a: number, b) => a + (b ?? 0), 0);

describe('coldStartParts', () => {
  it('splits a cold start into consecutive parts that add up to it', () => {
    const parts = coldStartParts({
      startedAt: T0, readyAt: T0 + 12_340,
      scheduledAt: T0 + 1_600, // written as 06:00:02Z
      runtime: { startedAt: T0 + 4_100, modelLoadSeconds: 2.5, warmUpSeconds: 1.25 },
    });
    expect(parts).toEqual({ scheduling: 1.6, containerStart: 2.5, modelLoad: 2.5, warmUp: 1.25, ready: 4.49 });
    expect(sum(parts)).toBeCloseTo(12.34, 2);
  });

  it('keeps a PodScheduled time truncated to before the write from going negative', () => {
    const parts = coldStartParts({ startedAt: T0, readyAt: T0 + 5_000, scheduledAt: T0 - 400, runtime: { startedAt: T0 + 1_000, modelLoadSeconds: 1, warmUpSeconds: 1 } });
    expect(parts).toEqual({ scheduling: 0, containerStart: 1, modelLoad: 1, warmUp: 1, ready: 2 });
  });

  it('leaves out the runtime\'s account when its process started before the write', () => {
    const parts = coldStartParts({ startedAt: T0, readyAt: T0 + 3_000, scheduledAt: T0 + 600, runtime: { startedAt: T0 - 60_000, modelLoadSeconds: 2, warmUpSeconds: 1 } });
    expect(parts).toEqual({ scheduling: 0.6, ready: 2.4 });
  });

  it('leaves out what it could not read, and invents nothing when it read nothing', () => {
    expect(coldStartParts({ startedAt: T0, readyAt: T0 + 9_000 })).toEqual({});
    // No pod: the runtime's parts and the rest after them, but no scheduling or containerStart.
    expect(coldStartParts({ startedAt: T0, readyAt: T0 + 9_000, runtime: { startedAt: T0 + 3_000, modelLoadSeconds: 2, warmUpSeconds: 1 } }))
      .toEqual({ modelLoad: 2, warmUp: 1, ready: 3 });
    expect(coldStartParts({ startedAt: T0, readyAt: T0 + 9_000, scheduledAt: T0 + 1_000 })).toEqual({ scheduling: 1, ready: 8 });
  });

  it('clamps a runtime clock ahead of the router\'s to a zero rest', () => {
    const parts = coldStartParts({ startedAt: T0, readyAt: T0 + 4_000, scheduledAt: T0 + 1_000, runtime: { startedAt: T0 + 2_000, modelLoadSeconds: 2, warmUpSeconds: 1 } });
    expect(parts.ready).toBe(0);
  });
});

describe('reading the first replica', () => {
  const exposition = [
    '# HELP sentiment_runtime_startup_seconds This process\'s start by phase.',
    '# TYPE sentiment_runtime_startup_seconds gauge',
    'sentiment_runtime_startup_seconds{phase="modelLoad"} 1.875',
    'sentiment_runtime_startup_seconds{phase="warmUp"} 0.5',
    'sentiment_runtime_start_time_seconds 1796277600.123',
    'sentiment_runtime_start_time_seconds_total 5',
  ].join('\n');

  it('reads the runtime\'s startup from its /metrics', () => {
    expect(runtimeStartup(exposition)).toEqual({ startedAt: 1796277600123, modelLoadSeconds: 1.875, warmUpSeconds: 0.5 });
    expect(readSample(exposition, 'sentiment_runtime_startup_seconds', { phase: 'warmUp' })).toBe(0.5);
  });

  it('reads nothing from a runtime that does not report its startup, or reports garbage', () => {
    expect(runtimeStartup('sentiment_runtime_ready 1\n')).toBeUndefined();
    expect(runtimeStartup(exposition.replace('1.875', 'NaN'))).toBeUndefined();
    expect(runtimeStartup(exposition.replace('0.5', '-1'))).toBeUndefined();
  });

  it('reads a /metrics body only up to its bound', async () => {
    expect(await boundedText(new Response(exposition), 1 << 20)).toBe(exposition);
    expect(await boundedText(new Response('x'.repeat(2048)), 1024)).toBeUndefined();
  });

  it('takes PodScheduled=True only', () => {
    const pod = (status: string, time: string) => ({ status: { conditions: [{ type: 'PodScheduled', status, lastTransitionTime: time as unknown as Date }] } });
    expect(scheduledAt(pod('True', '2026-12-03T06:00:02Z'))).toBe(Date.parse('2026-12-03T06:00:02Z'));
    expect(scheduledAt(pod('False', '2026-12-03T06:00:02Z'))).toBeUndefined();
    expect(scheduledAt(pod('True', 'soon'))).toBeUndefined();
    expect(scheduledAt({})).toBeUndefined();
  });
});
