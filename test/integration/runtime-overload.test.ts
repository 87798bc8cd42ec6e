import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopRate, openLoop, openLoopInProcess, quantile, type Outcome } from '../support/open-loop.js';
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

/** The longest run of consecutive probes that the kubelet would count as failed (not 200, or slower than its timeout). */
const longestFailureStreak = (probes: Outcome[], timeoutMs: number): number => {
  let streak = 0;
  let longest = 0;
  for (const probe of [...probes].sort((a, b) => a.dueMs - b.dueMs)) {
    streak = probe.status === 200 && probe.latencyMs < timeoutMs ? 0 : streak + 1;
    longest = Math.max(longest, streak);
  }
  return longest;
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

/**
 * The issue's load: ~3,000 one-text requests/s, open loop, at the runtime's default layout (its
 * sessions derived from the cores) on a 2-core machine that runs the generator too. The probes
 * go to server.probePort, as the operator's kubelet probes do, from a process of their own (as a
 * kubelet's are), and the load from another: neither the test process's event loop nor the
 * generator's shows up as the server's latency. Whether the runtime is overloaded at this rate
 * depends on how much of the 2 cores it gets (on a quiet machine it serves all of it), so the
 * assertions hold either way: what a kubelet would see, and that every request got one of the
 * answers overload allows, none of them late.
 */
describe('runtime at the issue\'s rate: ~3,000 one-text requests/s, open loop', () => {
  const RATE = 3_000;
  const DURATION_MS = 10_000;
  let child: ReturnType<typeof spawnRuntime>;
  let base: string;
  let probeBase: string;
  beforeAll(async () => {
    child = spawnRuntime(['--server.port=0', '--server.probePort=0', '--server.host=127.0.0.1', '--cache.enabled=false', `--server.requestTimeoutMs=${DEADLINE_MS}`]);
    base = await waitForReadyUrl(child);
    probeBase = /"probeUrl":"(http:[^"]+)"/.exec(child.output())![1]!;
  });
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('answers every probe within the kubelet\'s timeouts, and every request 200, 429 or 504 by its deadline', { timeout: 120_000 }, async () => {
    const body = JSON.stringify({ text: 'The plot is tedious and the acting is wooden, yet the score is lovely.' });
    // A scrape resets the event-loop lag statistics, so the one after the load covers the load alone, not the model's load.
    await fetch(`${base}/metrics`);
    const started = performance.now();
    const [work, live, ready] = await Promise.all([
      // A generous connection cap keeps the generator within its file limit if the server stalls; a request waiting for a connection counts that wait.
      openLoopInProcess({ url: `${base}/v1/sentiment`, method: 'POST', body, rate: RATE, durationMs: DURATION_MS, timeoutMs: 3 * DEADLINE_MS, maxConnections: 4_000 }),
      openLoopInProcess({ url: `${probeBase}/healthz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
      openLoopInProcess({ url: `${probeBase}/readyz`, rate: 4, durationMs: DURATION_MS, timeoutMs: 10_000, freshConnections: true }),
    ]);
    const sendLag = work.map((outcome) => outcome.sendLagMs);
    // What was really offered: requests over the time from the first due to the last actually sent.
    const offered = (work.length * 1000) / (DURATION_MS + Math.max(0, quantile(sendLag, 1)));
    console.log(
      `offered ${offered.toFixed(0)}/s (asked ${RATE}/s; generator send lag p50 ${quantile(sendLag, 0.5).toFixed(0)} ms, p99 ${quantile(sendLag, 0.99).toFixed(0)} ms) for ${DURATION_MS / 1000} s, run took ${((performance.now() - started) / 1000).toFixed(1)} s\n` +
        `requests: ${summary(work)}\nliveness: ${summary(live)}\nreadiness: ${summary(ready)}`,
    );

    // The kubelet: every probe on the probe port answered 200 within 2 s (the readiness timeout,
    // below liveness's 5 s), so the pod neither leaves its Service nor is restarted.
    const probes = [...live, ...ready];
    expect(probes.filter((probe) => probe.status !== 200).map((probe) => probe.error ?? probe.status)).toEqual([]);
    expect(Math.max(...probes.map((probe) => probe.latencyMs))).toBeLessThan(READINESS_TIMEOUT_MS);
    expect([longestFailureStreak(ready, READINESS_TIMEOUT_MS), longestFailureStreak(live, LIVENESS_TIMEOUT_MS)]).toEqual([0, 0]);

    // The server's own account (its /metrics), whatever the generator managed: it answered every
    // request it read with one of the statuses overload allows: no 5xx, and no 408 for headers it
    // read too late to beat server.headersTimeoutMs.
    const exposition = await (await fetch(`${base}/metrics`)).text();
    const codes = [...exposition.matchAll(/^sentiment_runtime_requests_total\{route="\/v1\/sentiment",code="(\d+)"\} (\d+)$/gm)].map((match) => [match[1]!, Number(match[2])] as const);
    const loopLagMax = Number(/^sentiment_runtime_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(exposition)?.[1]);
    const timedOut = Number(/^sentiment_runtime_timed_out_requests_total (\S+)$/m.exec(exposition)?.[1]);
    console.log(`server: ${codes.map(([code, count]) => `${code}: ${count}`).join(', ')}, 408: ${timedOut}; event-loop lag max ${(loopLagMax * 1000).toFixed(0)} ms`);
    expect(codes.filter(([code]) => !['200', '429', '504'].includes(code))).toEqual([]);
    expect(timedOut).toBe(0);
    expect(codes.reduce((sum, [, count]) => sum + count, 0)).toBeGreaterThan(0);

    // The clients' account holds the server to its deadline only where the generator kept to its
    // schedule: a generator that is seconds behind (a 2-core machine busy with other work cannot
    // always send 3,000 requests/s and read their answers) measures itself, not the server.
    // Send lag is only a lower bound on the generator's own delays (reading answers lags as much or
    // more), so the checks below apply only where it stayed within 200 ms. (Measured at a 1 s bound
    // on this box: answers up to 10.5 s after their due time with the server's event loop at most
    // 1.2 s behind and no accept-queue overflow: time neither side's process accounts for.)
    if (quantile(sendLag, 0.99) > 200) {
      console.log(`client-side deadline checks not applied: the generator ran up to ${quantile(sendLag, 0.99).toFixed(0)} ms (p99) behind its schedule`);
      return;
    }
    // Every request answered with one of the statuses overload allows, and none late: an accepted
    // request is answered by its deadline or 504 at it. The slack covers the client's share of 2
    // loaded cores and the time before the process sees a connection.
    expect(work.filter((outcome) => ![200, 429, 504].includes(outcome.status)).map((outcome) => outcome.error ?? outcome.status)).toEqual([]);
    expect(Math.max(...work.filter((outcome) => outcome.status !== 429).map((outcome) => outcome.latencyMs))).toBeLessThan(DEADLINE_MS + 1_500);
    // Refusals are never slower than the deadline they protect.
    const refused = work.filter((outcome) => outcome.status === 429).map((outcome) => outcome.latencyMs);
    if (refused.length > 0) expect(Math.max(...refused)).toBeLessThan(DEADLINE_MS);
  });
});
