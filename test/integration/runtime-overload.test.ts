import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLoop, quantile, type Outcome } from '../support/open-loop.js';
import { spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

/** The runtime's deadline here: shorter than the default so a run that overshoots it shows within the test's time. */
const DEADLINE_MS = 5_000;
/** The operator's readiness probe timeout. */
const PROBE_TIMEOUT_MS = 2_000;
/** Offered one-text requests per second: several times what 2 shared cores classify. */
const RATE = Number(process.env.SENTIMENT_OVERLOAD_RATE ?? 2_500);
const DURATION_MS = 20_000;

const summary = (outcomes: Outcome[]): string => {
  const byStatus = new Map<number, number[]>();
  for (const outcome of outcomes) byStatus.set(outcome.status, [...(byStatus.get(outcome.status) ?? []), outcome.latencyMs]);
  return [...byStatus]
    .map(([status, latencies]) => `${status || 'no answer'}: ${latencies.length} (p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p99 ${quantile(latencies, 0.99).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms)`)
    .join('; ');
};

/**
 * Sustained overload, as a real process on a real port: an open-loop generator offers far more
 * one-text requests than the model classifies while a kubelet-like prober polls the probes on
 * fresh connections. The runtime must refuse the excess quickly, answer what it accepts within
 * its deadline (or 504), and keep answering the probes, so the kubelet neither restarts a
 * healthy pod nor takes it out of its Service.
 */
describe('runtime under sustained overload (open loop)', () => {
  let child: ReturnType<typeof spawnRuntime>;
  let base: string;
  beforeAll(async () => {
    child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--cache.enabled=false', `--server.requestTimeoutMs=${DEADLINE_MS}`]);
    base = await waitForReadyUrl(child);
  });
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('sheds the excess fast, answers accepted requests within the deadline or 504, and keeps probes answering', { timeout: 120_000 }, async () => {
    const body = JSON.stringify({ text: 'The plot is tedious but the acting is lovely, and the ending almost makes up for it.' });
    const [work, live, ready] = await Promise.all([
      openLoop({ url: `${base}/v1/sentiment`, method: 'POST', body, rate: RATE, durationMs: DURATION_MS, timeoutMs: 3 * DEADLINE_MS }),
      openLoop({ url: `${base}/healthz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
      openLoop({ url: `${base}/readyz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
    ]);
    const probes = [...live, ...ready];
    const sendLag = quantile([...work, ...probes].map((outcome) => outcome.sendLagMs), 0.99);
    console.log(`offered ${RATE}/s for ${DURATION_MS / 1000} s: ${summary(work)}\nprobes: ${summary(probes)}\ngenerator p99 send lag ${sendLag.toFixed(0)} ms`);

    const of = (status: number) => work.filter((outcome) => outcome.status === status).map((outcome) => outcome.latencyMs);
    const [ok, refused, late] = [of(200), of(429), of(504)];
    // It was overloaded, and still did useful work.
    expect(refused.length).toBeGreaterThan(work.length / 10);
    expect(ok.length).toBeGreaterThan(100);
    // Every request was answered, with one of the statuses overload allows.
    expect(work.filter((outcome) => ![200, 429, 504].includes(outcome.status)).map((outcome) => outcome.error ?? outcome.status)).toEqual([]);
    // Refusals come fast: most within a fraction of a second, none after a probe would have given up.
    expect(quantile(refused, 0.9)).toBeLessThan(1_000);
    expect(Math.max(...refused)).toBeLessThan(PROBE_TIMEOUT_MS * 1.5);
    // What was accepted was answered within its deadline; what could not be was answered 504, not late.
    // The slack covers the client's own share of 2 loaded cores and the time before the process sees a connection.
    expect(Math.max(...ok)).toBeLessThan(DEADLINE_MS + 1_500);
    expect(late.every((latency) => latency < DEADLINE_MS + 1_500)).toBe(true);
    // Every probe answered 200 within the kubelet's timeout.
    expect(probes.map((probe) => probe.status)).toEqual(probes.map(() => 200));
    expect(Math.max(...probes.map((probe) => probe.latencyMs))).toBeLessThan(PROBE_TIMEOUT_MS);
  });
});
