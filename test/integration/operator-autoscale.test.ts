// The builtin autoscaler end to end: the operator scrapes real runtime processes on localhost that
// stand in for the model's kwok pods (only the pod -> address resolution is injected, never the
// metrics), a load generator that follows the Ready pods like a Service drives them, and the
// SentimentModel scales up under load and back down once idle for the scale-down delay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, isPodReady, listEvents, listPods, waitFor } from '../support/kube.js';
import { applyModel, isReady, readModel, recordStatuses, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';
import { spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const ns = 'autoscale';
const name = 'sst2';
const PROCESSES = 4;
const TARGET = 2;
/** Closed-loop clients: in-flight requests stay at this total, i.e. CONCURRENCY / TARGET replicas' worth. */
const CONCURRENCY = 8;
const DELAY_S = 8;

/**
 * Runtime processes lent to pods: a pod keeps its process while it exists, and a process goes
 * back to the pool once its pod is terminating or gone from a listing made after the loan.
 */
class Backends {
  private readonly loans = new Map<string, { url: string; since: number }>();
  /** URLs of the Ready pods, which the load generator spreads requests over. */
  ready: string[] = [];

  constructor(private readonly urls: string[]) {}

  readonly address = (pod: V1Pod): string | undefined => this.lend(pod.metadata?.name ?? '');

  refresh(pods: V1Pod[], listedAt: number): void {
    const live = new Map(pods.filter((p) => !p.metadata?.deletionTimestamp).map((p) => [p.metadata?.name ?? '', p]));
    for (const [pod, loan] of this.loans) if (!live.has(pod) && loan.since < listedAt) this.loans.delete(pod);
    this.ready = [...live.values()].filter(isPodReady).map((p) => this.lend(p.metadata?.name ?? '')).filter((u): u is string => u !== undefined);
  }

  private lend(pod: string): string | undefined {
    const held = this.loans.get(pod);
    if (held) return held.url;
    const taken = new Set([...this.loans.values()].map((l) => l.url));
    const url = this.urls.find((u) => !taken.has(u));
    if (url) this.loans.set(pod, { url, since: Date.now() });
    return url;
  }
}

async function readyRuntime(children: ReturnType<typeof spawnRuntime>[]): Promise<string> {
  const child = spawnRuntime([
    '--server.port=0', '--server.host=127.0.0.1', '--server.drainDelayMs=0', '--cache.enabled=false',
    // Each request waits out the batch delay, so in-flight requests track the clients' concurrency.
    '--batching.maxBatchDelayMs=200', '--session.intraOpThreads=1',
  ]);
  children.push(child);
  return waitForReadyUrl(child);
}

describe('operator: builtin autoscaling on scraped runtime metrics', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  let cp: ControlPlane;
  let op: RunningOperator;
  let backends: Backends;
  let stopped = false;
  const served = new Map<string, number>();
  const failures: string[] = [];
  let load: Promise<unknown> | undefined;
  let loadStopped = 0;

  beforeAll(async () => {
    const [plane, urls] = await Promise.all([
      startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1'), cpuNode('cpu-2')] }),
      Promise.all(Array.from({ length: PROCESSES }, () => readyRuntime(children))),
    ]);
    cp = plane;
    backends = new Backends(urls);
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig, { autoscaler: { intervalMs: 500, scrapeTimeoutMs: 400, persistIntervalSeconds: 5 } }, { podAddress: backends.address });
    // Endpoints, as the load sees them: the Ready pods, listed every 200 ms.
    void (async () => {
      while (!stopped) {
        const listedAt = Date.now();
        await listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${name}`).then((pods) => backends.refresh(pods, listedAt), () => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    await applyModel(cp.kubeConfig, ns, name, {
      replicas: 1,
      autoscaling: {
        enabled: true, metric: 'inflight', target: TARGET, minReplicas: 1, maxReplicas: PROCESSES,
        stableWindowSeconds: 6, panicWindowSeconds: 2, scaleDownDelaySeconds: DELAY_S,
      },
    });
    await waitForModel(cp.kubeConfig, ns, name, (m) => isReady(m) && m.status?.readyReplicas === 1, 45_000, 'one ready replica');
  });
  afterAll(async () => {
    stopped = true;
    await load;
    await op?.stop();
    await cp?.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  const client = async (id: number): Promise<void> => {
    for (let i = id; !stopped && loadStopped === 0; i += CONCURRENCY) {
      const url = backends.ready[i % Math.max(1, backends.ready.length)];
      if (!url) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const res = await fetch(`${url}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `a fine film, take ${i}` }) })
        .catch((err: unknown) => ({ status: 0, text: async () => String(err) }));
      if (res.status === 200) served.set(url, (served.get(url) ?? 0) + 1);
      else failures.push(`${res.status} ${await res.text()}`);
    }
  };

  it('scales up under load, through the scale subresource, with the decision in status and events', async () => {
    load = Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => client(id)));
    const scaled = await waitForModel(cp.kubeConfig, ns, name, (m) => m.spec.replicas === PROCESSES && m.status?.readyReplicas === PROCESSES, 30_000, `${PROCESSES} ready replicas`);
    expect(scaled.status?.desiredReplicas).toBe(PROCESSES);
    expect(scaled.status?.autoscaling?.lastScaleTime).toMatch(/Z$/);
    expect(scaled.status?.autoscaling?.state?.desired).toBe(PROCESSES);
    const up = await listEvents(cp.kubeConfig, ns, name, 'ScaledUp');
    expect(up.length).toBeGreaterThanOrEqual(1);
    expect(up.at(-1)?.message).toMatch(new RegExp(`-> ${PROCESSES} replicas \\(\\w+\\): observed inflight [\\d.]+`));
    expect(await op.metric('sentiment_operator_autoscaler_desired_replicas', { namespace: ns, name })).toBe(PROCESSES);

    // Settled: the load spreads over every pod's process and the size holds.
    served.clear();
    await waitFor(() => served.size === PROCESSES && [...served.values()].every((n) => n >= 20), 15_000, () => `requests served per process: ${JSON.stringify([...served])}`);
    const observed = await waitForModel(cp.kubeConfig, ns, name, (m) => (m.status?.autoscaling?.metricValue ?? 0) >= CONCURRENCY * 0.75, 15_000, 'observed in-flight requests');
    expect(observed.spec.replicas).toBe(PROCESSES);
    expect(await listEvents(cp.kubeConfig, ns, name, 'ScaledDown')).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('scales back down once idle for the scale-down delay, with the hold visible in status', async () => {
    const recorder = await recordStatuses(cp.kubeConfig, ns, name);
    loadStopped = Date.now();
    await load;
    let firstDown = 0;
    const idle = await waitFor(async () => {
      const m = await readModel(cp.kubeConfig, ns, name);
      if (m && m.spec.replicas < PROCESSES && !firstDown) firstDown = Date.now();
      return m?.spec.replicas === 1 && m.status?.readyReplicas === 1 && m;
    }, 45_000, 'not back to one replica', 100);
    await recorder.stopAfter(idle);

    // The last busy scrape may come up to a tick after the load stopped.
    expect(firstDown - loadStopped).toBeGreaterThanOrEqual((DELAY_S - 1) * 1000);
    const reasons = recorder.seen.map((m: SentimentModel) => m.status?.autoscaling?.reason);
    expect(reasons).toContain('HoldScaleDownDelay');
    expect(idle.status).toMatchObject({ desiredReplicas: 1, autoscaling: { panic: false } });
    expect(['ScaleDown', 'AtMin', 'Stable']).toContain(idle.status?.autoscaling?.reason);
    const down = await listEvents(cp.kubeConfig, ns, name, 'ScaledDown');
    expect(down.length).toBeGreaterThanOrEqual(1);
    expect(down.at(-1)?.message).toMatch(/-> 1 replicas \(\w+\): observed inflight [\d.]+/);
    expect(await op.metric('sentiment_operator_autoscaler_desired_replicas', { namespace: ns, name })).toBe(1);
    expect(await op.metric('sentiment_operator_autoscaler_scrape_errors_total', { namespace: ns, name })).toBe(0);
  });
});
