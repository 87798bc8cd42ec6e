import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LABEL_MODEL, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import { OperatorMetrics } from '../metrics.js';
import { sentimentModel } from '../testing/fixtures.js';
import { Reason } from './decide.js';
import type { StreamSample } from './lag.js';
import { AUTOSCALER_FIELD_MANAGER, AutoscalerLoop, type AutoscalerWriter } from './loop.js';

const T0 = 1_700_000_000_000;
const TARGET = 10;
const DELAY_S = 30;
const PERSIST_S = 30;

/**
 * The apiserver and the Deployment as the loop sees them through its caches: a scale write sets
 * spec.replicas and bumps the generation, and that many pods are Ready at once. With `lag`, writes
 * reach the "cache" only on sync(), as they would a watch event later.
 */
class FakeCluster implements AutoscalerWriter {
  model: SentimentModel;
  /** Total metric across the pods, split evenly. */
  load = 0;
  answering = true;
  deleted = false;
  /** Texts the pods have answered so far (the runtime's predictions counter, summed). */
  served = 0;
  /** The pods exist but are not Ready yet (a cold start). */
  starting = false;
  lag = false;
  sampled = 0;
  /** Metric kafkaLag: the group's lag the brokers report (undefined: unreachable) and what each pod produces per second (one tick). */
  stream?: { lag?: number; perPod: number };
  lagReads = 0;
  readonly forgotten: string[] = [];
  private readonly produced = new Map<string, number>();
  readonly scales: number[] = [];
  readonly statuses: SentimentModelStatus[] = [];
  readonly events: { type: string; reason: string; message: string }[] = [];
  private pending: (() => void)[] = [];

  constructor(autoscaling: Record<string, unknown> = {}, replicas = 1, spec: Record<string, unknown> = {}) {
    this.model = sentimentModel({
      ...spec,
      replicas,
      autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 10, target: TARGET, stableWindowSeconds: 6, panicWindowSeconds: 2, scaleDownDelaySeconds: DELAY_S, ...autoscaling },
    });
  }

  async applyStatus(_model: SentimentModel, status: SentimentModelStatus, fieldManager: string): Promise<void> {
    expect(fieldManager).toBe(AUTOSCALER_FIELD_MANAGER);
    this.statuses.push(structuredClone(status));
    // Server-side apply under our own manager: our fields are replaced as a whole, the rest stays.
    this.later(() => {
      const { desiredReplicas: _d, autoscaling: _a, ...others } = this.model.status ?? {};
      this.model = { ...this.model, status: { ...others, ...structuredClone(status) } };
    });
  }

  async scale(_model: SentimentModel, replicas: number, fieldManager: string): Promise<void> {
    expect(fieldManager).toBe(AUTOSCALER_FIELD_MANAGER);
    this.scales.push(replicas);
    this.later(() => {
      const { metadata, spec } = this.model;
      this.model = { ...this.model, metadata: { ...metadata, generation: (metadata.generation ?? 0) + 1 }, spec: { ...spec, replicas } };
    });
  }

  /** One scrape of a pod's stream series; its produced counter advances one tick's worth. */
  streamSample(pod: string): StreamSample | undefined {
    if (!this.stream) return undefined;
    const produced = (this.produced.get(pod) ?? 0) + this.stream.perPod;
    this.produced.set(pod, produced);
    return { assigned: 1, produced };
  }

  async readLag(): Promise<{ lag: number; partitions: number }> {
    this.lagReads++;
    if (this.stream?.lag === undefined) throw new Error('Connection to kafka:9092 failed');
    return { lag: this.stream.lag, partitions: 12 };
  }

  /** Someone else's write of spec.replicas (the router's 0 -> 1), as the cache shows it. */
  scaledBySomeoneElse(replicas: number): void {
    const { metadata, spec } = this.model;
    this.model = { ...this.model, metadata: { ...metadata, generation: (metadata.generation ?? 0) + 1 }, spec: { ...spec, replicas } };
  }

  sync(): void {
    for (const apply of this.pending.splice(0)) apply();
  }

  pods(): V1Pod[] {
    const { name } = this.model.metadata;
    return Array.from({ length: this.model.spec.replicas }, (_, i) => ({
      metadata: { name: `${name}-${i}`, labels: { [LABEL_MODEL]: name } },
      status: { conditions: [{ type: 'Ready', status: this.starting ? 'False' : 'True' }] },
    }));
  }

  private later(apply: () => void): void {
    if (this.lag) this.pending.push(apply);
    else apply();
  }
}

/** A loop over the fake cluster with a clock the test moves, one tick per second. */
function harness(cluster: FakeCluster, metrics = new OperatorMetrics()) {
  let now = T0;
  const make = () => new AutoscalerLoop({
    models: () => (cluster.deleted ? [] : [cluster.model]),
    pods: () => cluster.pods(),
    sample: async (pods, metric) => {
      cluster.sampled++;
      return new Map(pods.map((p) => {
        const name = p.metadata?.name ?? '';
        if (!cluster.answering) return [name, {}];
        const stream = cluster.streamSample(name);
        return [name, { answered: cluster.served, ...(metric === 'kafkaLag' ? (stream ? { stream } : {}) : { value: cluster.load / pods.length }) }];
      }));
    },
    readLag: () => cluster.readLag(),
    forgetLag: async (key) => void cluster.forgotten.push(key),
    writer: cluster,
    events: {
      normal: async (_m, reason, message) => void cluster.events.push({ type: 'Normal', reason, message }),
      warning: async (_m, reason, message) => void cluster.events.push({ type: 'Warning', reason, message }),
    },
    metrics, log: pino({ level: 'silent' }), clock: () => now, intervalMs: 1000, persistIntervalMs: PERSIST_S * 1000,
  }, new AbortController().signal);
  const h = {
    loop: make(),
    metrics,
    get second() {
      return (now - T0) / 1000;
    },
    /** A new leadership term: nothing carries over but what the cluster holds. */
    failover: () => (h.loop = make()),
    run: async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        await h.loop.tick();
        now += 1000;
      }
    },
  };
  return h;
}

const gauge = async (g: OperatorMetrics['autoscalerDesired'] | OperatorMetrics['autoscalerScrapeErrors']) => (await g.get()).values.map((v) => v.value);

describe('AutoscalerLoop', () => {
  it('scales up through the scale subresource with a ScaledUp event, and persists the decision', async () => {
    const cluster = new FakeCluster();
    const h = harness(cluster);
    await h.run(3);
    expect(cluster.scales).toEqual([]);
    cluster.load = 4 * TARGET;
    await h.run(5);

    expect(cluster.model.spec.replicas).toBe(4);
    expect(cluster.scales.at(-1)).toBe(4);
    expect(cluster.events.length).toBe(cluster.scales.length);
    expect(cluster.events.every((e) => e.type === 'Normal' && e.reason === 'ScaledUp' && /\(Panic\): observed inflight \d/.test(e.message))).toBe(true);
    const status = cluster.model.status!;
    expect(status).toMatchObject({ desiredReplicas: 4, autoscaling: { panic: true, reason: Reason.Panic, lastScaleTime: expect.stringMatching(/^2023-11-14T\d\d:\d\d:\d\dZ$/) } });
    expect(status.autoscaling?.state?.desired).toBe(4);
    // Not metric kafkaLag: no lag input on show.
    expect(status.autoscaling?.drivenBy).toBeUndefined();
    expect(status.autoscaling?.kafkaLag).toBeUndefined();
    expect(status.autoscaling?.state?.metric.length).toBeGreaterThan(0);
    expect(await gauge(h.metrics.autoscalerDesired)).toEqual([4]);
    expect((await gauge(h.metrics.autoscalerObserved))[0]).toBeGreaterThan(0);
  });

  it('writes nothing while the load is steady, and refreshes a noisy one at most every persist interval', async () => {
    const cluster = new FakeCluster();
    const h = harness(cluster);
    cluster.load = 4 * TARGET;
    await h.run(30);
    const [scales, statuses] = [cluster.scales.length, cluster.statuses.length];
    await h.run(120);
    expect(cluster.model.spec.replicas).toBe(4);
    expect(cluster.scales.length).toBe(scales);
    expect(cluster.statuses.length).toBe(statuses);

    const noisy = cluster.statuses.length;
    for (let i = 0; i < 120; i++) {
      cluster.load = 4 * TARGET + (i % 2 === 0 ? -3 : 3);
      await h.run(1);
    }
    expect(cluster.scales.length).toBe(scales);
    expect(cluster.statuses.length - noisy).toBeLessThanOrEqual(120 / PERSIST_S);
    expect(cluster.statuses.length - noisy).toBeGreaterThanOrEqual(1);
  });

  it('writes spec.replicas once while the cache has not yet shown the write', async () => {
    const cluster = new FakeCluster({ maxScaleUpRate: 1000 });
    const h = harness(cluster);
    cluster.lag = true;
    cluster.load = 6 * TARGET;
    await h.run(6);
    expect(new Set(cluster.scales).size).toBe(cluster.scales.length);
    cluster.sync();
    const writes = cluster.scales.length;
    await h.run(3);
    cluster.sync();
    await h.run(3);
    expect(cluster.scales.length).toBe(writes);
  });

  it('resumes from the persisted state after a failover: the scale-down delay still holds', async () => {
    const scaleDownAfterFailover = async (keepStatus: boolean) => {
      const cluster = new FakeCluster();
      const h = harness(cluster);
      cluster.load = 4 * TARGET;
      await h.run(60);
      cluster.load = 0;
      const dropped = h.second;
      await h.run(10);
      expect(cluster.model.spec.replicas).toBe(4);
      expect(cluster.model.status?.autoscaling?.reason).toBe(Reason.HoldScaleDownDelay);
      if (!keepStatus) cluster.model = { ...cluster.model, status: {} };
      h.failover();
      const before = cluster.scales.length;
      while (cluster.scales.length === before && h.second < dropped + 2 * DELAY_S) await h.run(1);
      return h.second - 1 - dropped;
    };
    expect(await scaleDownAfterFailover(true)).toBeGreaterThanOrEqual(DELAY_S);
    // The control: a successor without the persisted windows would scale down at once.
    expect(await scaleDownAfterFailover(false)).toBe(10);
  });

  it('holds and reports MetricsUnavailable when no pod answers', async () => {
    const cluster = new FakeCluster({}, 3);
    const h = harness(cluster);
    cluster.load = 3 * TARGET;
    await h.run(5);
    cluster.answering = false;
    await h.run(20);
    expect(cluster.scales).toEqual([]);
    expect(cluster.model.status).toMatchObject({ desiredReplicas: 3, autoscaling: { reason: Reason.MetricsUnavailable } });
    expect(cluster.model.status?.autoscaling?.metricValue).toBeUndefined();
    expect(cluster.events.filter((e) => e.type === 'Warning' && e.reason === Reason.MetricsUnavailable)).toHaveLength(1);
    expect(await gauge(h.metrics.autoscalerObserved)).toEqual([]);
    expect(await gauge(h.metrics.autoscalerScrapeErrors)).toEqual([20 * 3]);
  });

  it('leaves an external engine alone and clears what it wrote before', async () => {
    const cluster = new FakeCluster({ engine: 'external', minReplicas: 0 }, 2);
    cluster.model = { ...cluster.model, status: { replicas: 2, desiredReplicas: 5, autoscaling: { reason: Reason.Stable } } };
    cluster.load = 10 * TARGET;
    const h = harness(cluster);
    await h.run(10);
    expect(cluster.sampled).toBe(0);
    expect(cluster.scales).toEqual([]);
    expect(cluster.statuses).toEqual([{}]);
    expect(cluster.model.status).toEqual({ replicas: 2 });
  });

  it('scales a kafkaLag model from zero on the lag the brokers report, shows it in status and events, and back to zero', async () => {
    const kafka = { bootstrapServers: ['kafka:9092'], inputTopic: 'reviews', outputTopic: 'reviews-sentiment' };
    const cluster = new FakeCluster({ metric: 'kafkaLag', minReplicas: 0 }, 0, { stream: { kafka } });
    cluster.stream = { lag: 0, perPod: 500 };
    const h = harness(cluster);
    await h.run(3);
    // No pod, yet the lag is read: nothing to do.
    expect(cluster.scales).toEqual([]);
    expect(cluster.lagReads).toBe(3);
    expect(cluster.model.status?.autoscaling).toMatchObject({ reason: Reason.Stable, drivenBy: 'idle', kafkaLag: { lag: 0, partitions: 12, desiredReplicas: 0 } });

    cluster.stream = { lag: 60_000, perPod: 500 };
    await h.run(3);
    // 0 -> 1 with no rate known; the new pod's second scrape measures 500/s and sizes the backlog.
    expect(cluster.scales).toEqual([1, 2]);
    expect(cluster.model.status?.autoscaling).toMatchObject({
      reason: Reason.ScaleUp, drivenBy: 'backlog', kafkaLag: { lag: 60_000, recordsPerSecondPerReplica: 500, partitions: 12, desiredReplicas: 2 },
    });
    expect(cluster.events.map((e) => e.message)).toEqual([
      '0 -> 1 replicas (ScaleUp, driven by backlog): kafka lag 60000 over 12 partitions at an unmeasured rate, drain within 60 s, asks for 1',
      '1 -> 2 replicas (ScaleUp, driven by backlog): kafka lag 60000 over 12 partitions at 500 records/s per replica, drain within 60 s, asks for 2',
    ]);
    expect((await h.metrics.kafkaLag.get()).values.map((v) => v.value)).toEqual([60_000]);
    expect((await h.metrics.kafkaPartitions.get()).values.map((v) => v.value)).toEqual([12]);

    // Drained, the burst out of the 20 s trend window (it reads as a flow while in it) and the
    // delay passed: to zero in two halving steps.
    cluster.stream = { lag: 0, perPod: 0 };
    await h.run(DELAY_S + 25);
    expect(cluster.scales).toEqual([1, 2, 1, 0]);
    expect(cluster.model.status?.autoscaling).toMatchObject({ drivenBy: 'idle', kafkaLag: { lag: 0, desiredReplicas: 0 } });
    expect(cluster.events.at(-1)?.message).toMatch(/^1 -> 0 replicas \(ScaleDown, driven by idle\): kafka lag 0 over 12 partitions/);
  });

  it('holds the size when the lag cannot be read, with the reason in status, one Warning event and the last lag on show', async () => {
    const kafka = { bootstrapServers: ['kafka:9092'], inputTopic: 'reviews', outputTopic: 'reviews-sentiment' };
    const cluster = new FakeCluster({ metric: 'kafkaLag', minReplicas: 0 }, 2, { stream: { kafka } });
    cluster.stream = { lag: 60_000, perPod: 500 };
    const h = harness(cluster);
    await h.run(3);
    const before = cluster.scales.length;
    cluster.stream = { perPod: 500 };
    await h.run(DELAY_S + 5);
    expect(cluster.scales.length).toBe(before);
    expect(cluster.model.status).toMatchObject({
      desiredReplicas: 2, autoscaling: { reason: Reason.KafkaLagUnavailable, drivenBy: 'backlog', kafkaLag: { lag: 60_000, desiredReplicas: 2 } },
    });
    const warnings = cluster.events.filter((e) => e.type === 'Warning');
    expect(warnings).toEqual([{ type: 'Warning', reason: Reason.KafkaLagUnavailable, message: 'reading consumer group lag from kafka:9092 failed: Connection to kafka:9092 failed; holding the last decision' }]);
    expect((await h.metrics.kafkaLagReadErrors.get()).values.map((v) => v.value)).toEqual([DELAY_S + 5]);

    // Back: read again, a second outage would warn again.
    cluster.stream = { lag: 60_000, perPod: 500 };
    await h.run(1);
    expect(cluster.model.status?.autoscaling?.reason).not.toBe(Reason.KafkaLagUnavailable);
    cluster.stream = { perPod: 500 };
    await h.run(1);
    expect(cluster.events.filter((e) => e.type === 'Warning')).toHaveLength(2);
  });

  it('closes the lag reader of a model whose autoscaling is turned off', async () => {
    const kafka = { bootstrapServers: ['kafka:9092'], inputTopic: 'reviews', outputTopic: 'reviews-sentiment' };
    const cluster = new FakeCluster({ metric: 'kafkaLag', minReplicas: 0 }, 1, { stream: { kafka } });
    cluster.stream = { lag: 0, perPod: 0 };
    const h = harness(cluster);
    await h.run(1);
    cluster.model = { ...cluster.model, spec: { ...cluster.model.spec, autoscaling: { ...cluster.model.spec.autoscaling, enabled: false } } };
    await h.run(1);
    expect(cluster.forgotten).toContain(`${cluster.model.metadata.namespace}/${cluster.model.metadata.name}`);
  });

  it('drops the series of a model that is gone', async () => {
    const cluster = new FakeCluster();
    const h = harness(cluster);
    cluster.load = TARGET;
    await h.run(2);
    expect(await gauge(h.metrics.autoscalerDesired)).toEqual([1]);
    cluster.deleted = true;
    await h.run(1);
    expect(await gauge(h.metrics.autoscalerDesired)).toEqual([]);
    expect(await gauge(h.metrics.autoscalerObserved)).toEqual([]);
  });

  describe('with minReplicas 0', () => {
    it('scales an idle model to zero after the delay, stays there without scraping, and adopts the router\'s 0 -> 1 instead of fighting it', async () => {
      const cluster = new FakeCluster({ minReplicas: 0 });
      const h = harness(cluster);
      await h.run(DELAY_S - 1);
      expect(cluster.scales).toEqual([]);
      await h.run(2);
      expect(cluster.scales).toEqual([0]);
      expect(cluster.model.status).toMatchObject({ desiredReplicas: 0, autoscaling: { reason: Reason.Idle } });
      expect(cluster.events.at(-1)).toMatchObject({ reason: 'ScaledDown', message: expect.stringMatching(/^1 -> 0 replicas \(Idle\)/) });

      // Asleep: nothing to scrape and nothing to decide but zero.
      const sampled = cluster.sampled;
      await h.run(DELAY_S);
      expect(cluster.scales).toEqual([0]);

      // The router asks for one replica; its pod takes longer than the delay to start, then serves what was held.
      cluster.starting = true;
      cluster.scaledBySomeoneElse(1);
      await h.run(DELAY_S * 2);
      expect(cluster.scales).toEqual([0]);
      expect(cluster.model.status?.desiredReplicas).toBe(1);
      cluster.starting = false;
      cluster.served += 5;
      await h.run(DELAY_S - 1);
      expect(cluster.scales).toEqual([0]);
      await h.run(2);
      expect(cluster.scales).toEqual([0, 0]);
      expect(cluster.sampled).toBeGreaterThan(sampled);
    });

    it('keeps one replica through a warm window, and takes the model to zero after it only once idle for the delay', async () => {
      // T0 is a Tuesday, 22:13:20 UTC: the window opens 40 s in and closes 160 s in.
      const cluster = new FakeCluster({ minReplicas: 0, warmWindows: [{ days: ['Tue'], start: '22:14', end: '22:16', timeZone: 'UTC' }] }, 0);
      const h = harness(cluster);
      await h.run(40);
      expect(cluster.scales).toEqual([]);
      await h.run(1);
      expect(cluster.scales).toEqual([1]);
      // Idle far longer than the delay, but inside the window.
      await h.run(109);
      expect(cluster.scales).toEqual([1]);
      // A request 10 s before the window closes: the delay runs from it, past the window's end.
      cluster.served += 5;
      await h.run(DELAY_S);
      expect(h.second).toBe(150 + DELAY_S);
      expect(cluster.scales).toEqual([1]);
      await h.run(1);
      expect(cluster.scales).toEqual([1, 0]);
    });

    it('keeps a model that answers requests too short to show in flight', async () => {
      const cluster = new FakeCluster({ minReplicas: 0 });
      const h = harness(cluster);
      for (let i = 0; i < 10; i++) {
        cluster.served++;
        await h.run(DELAY_S / 2);
      }
      expect(cluster.scales).toEqual([]);
      expect(cluster.model.spec.replicas).toBe(1);
    });

    it('counts a pod that does not answer its scrape as active', async () => {
      const cluster = new FakeCluster({ minReplicas: 0 });
      cluster.answering = false;
      const h = harness(cluster);
      await h.run(DELAY_S * 2);
      expect(cluster.scales).toEqual([]);
    });

    it('resumes asleep after a failover, and adopts a wake that came in between', async () => {
      const cluster = new FakeCluster({ minReplicas: 0 });
      const h = harness(cluster);
      await h.run(DELAY_S + 1);
      expect(cluster.model.spec.replicas).toBe(0);
      cluster.scaledBySomeoneElse(1);
      h.failover();
      await h.run(DELAY_S - 1);
      expect(cluster.scales).toEqual([0]);
      expect(cluster.model.status?.desiredReplicas).toBe(1);
    });
  });
});

