import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopRate, openLoop, quantile, type Outcome } from '../support/open-loop.js';
import { spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

/** The runtime's deadline here: shorter than the default so a run that overshoots it shows within the test's time. */
const DEADLINE_MS = 5_000;
/** The operator's readiness and liveness probe timeouts. */
const READINESS_TIMEOUT_MS = 2_000;
const LIVENESS_TIMEOUT_MS = 5_000;
/**
 * The offered load, as a multiple of what the runtime completes just before (measured, since a
 * shared CI box's speed varies several-fold from minute to minute). The runtime is slowed down
 * (one inference thread, no batching, eight long texts per request) rather than the request rate
 * raised: a 2-core box shared with other work runs out of CPU for HTTP alone at a few hundred
 * requests/s, generator and runtime together, and then measures itself, not admission.
 */
const OVERLOAD = 3;
const DURATION_MS = 20_000;
const TEXT = 'The plot is tedious and the pacing drags through a long, muddled second act, yet the acting is lovely, the score is haunting, and the final twenty minutes almost make up for everything that came before them. '.repeat(8);

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
    child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--cache.enabled=false', `--server.requestTimeoutMs=${DEADLINE_MS}`, '--session.intraOpThreads=1', '--batching.maxBatchSize=1']);
    base = await waitForReadyUrl(child);
  });
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('sheds the excess fast, answers accepted requests within the deadline or 504, and keeps probes answering', { timeout: 120_000 }, async () => {
    const body = JSON.stringify({ texts: Array.from({ length: 8 }, (_, i) => `${i}. ${TEXT}`) });
    const capacity = await closedLoopRate({ url: `${base}/v1/sentiment`, body, durationMs: 3_000, concurrency: 4 });
    const RATE = Math.min(250, Math.max(10, Math.round(OVERLOAD * capacity)));
    const [work, live, ready] = await Promise.all([
      openLoop({ url: `${base}/v1/sentiment`, method: 'POST', body, rate: RATE, durationMs: DURATION_MS, timeoutMs: 3 * DEADLINE_MS }),
      openLoop({ url: `${base}/healthz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
      openLoop({ url: `${base}/readyz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
    ]);
    const probes = [...live, ...ready];
    const sendLag = quantile([...work, ...probes].map((outcome) => outcome.sendLagMs), 0.99);
    console.log(`capacity ${capacity.toFixed(0)}/s; offered ${RATE}/s for ${DURATION_MS / 1000} s: ${summary(work)}\nprobes: ${summary(probes)}\ngenerator p99 send lag ${sendLag.toFixed(0)} ms`);

    const of = (status: number) => work.filter((outcome) => outcome.status === status).map((outcome) => outcome.latencyMs);
    const [ok, refused, late] = [of(200), of(429), of(504)];
    // It was overloaded, and still did useful work.
    expect(refused.length).toBeGreaterThan(work.length / 10);
    expect(ok.length).toBeGreaterThan(work.length / (4 * OVERLOAD));
    // Every request was answered, with one of the statuses overload allows.
    expect(work.filter((outcome) => ![200, 429, 504].includes(outcome.status)).map((outcome) => outcome.error ?? outcome.status)).toEqual([]);
    // Refusals come fast: typically within a fraction of a second, never as late as a deadline.
    // (The bounds leave room for a CI box whose 2 cores run much else; before admission at the door,
    // refusals waited behind parsing and tokenizing, and took up to 7.9 s.)
    expect(quantile(refused, 0.5)).toBeLessThan(500);
    expect(Math.max(...refused)).toBeLessThan(DEADLINE_MS);
    // Admission keeps the wait short enough that accepted work mostly finishes: a queue that took
    // everything it had room for (2048 texts) would hold far more than the deadline's worth, and
    // answer nearly every accepted request 504.
    expect(late.length).toBeLessThan(ok.length / 2);
    // What was accepted was answered within its deadline; what could not be was answered 504, not late.
    // The slack covers the client's own share of 2 loaded cores and the time before the process sees a connection.
    expect(Math.max(...ok)).toBeLessThan(DEADLINE_MS + 1_500);
    expect(late.every((latency) => latency < DEADLINE_MS + 1_500)).toBe(true);
    // Every probe answered 200, within the liveness timeout (no restart of a healthy pod) and mostly
    // within the readiness timeout (the pod would need 2 misses in a row to leave its Service).
    expect(probes.map((probe) => probe.status)).toEqual(probes.map(() => 200));
    const probeLatencies = probes.map((probe) => probe.latencyMs);
    expect(Math.max(...probeLatencies)).toBeLessThan(LIVENESS_TIMEOUT_MS);
    expect(quantile(probeLatencies, 0.95)).toBeLessThan(READINESS_TIMEOUT_MS);
  });
});
