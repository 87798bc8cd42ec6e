import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'sentiment_operator_';

/**
 * Every series the operator exports, on a registry of its own so two operators in one process
 * (the leader-election test) keep separate counts.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: `${PREFIX}reconcile_total`, help: 'Reconciles by result (success, error, conflict, aborted).', labelNames: ['result'], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: `${PREFIX}reconcile_duration_seconds`, help: 'Time to reconcile one SentimentModel.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({ name: `${PREFIX}reconcile_errors_total`, help: 'Reconciles that failed and were requeued with backoff.', registers: [this.registry] });
  readonly apiWrites = new Counter({ name: `${PREFIX}api_writes_total`, help: 'Write requests sent to the apiserver by the controller, by verb and kind.', labelNames: ['verb', 'kind'], registers: [this.registry] });
  readonly driftCorrections = new Counter({
    name: `${PREFIX}drift_corrections_total`, help: 'Children whose owned fields someone else had changed, reverted, by kind.', labelNames: ['kind'], registers: [this.registry],
  });
  readonly canaryRollbacks = new Counter({
    name: `${PREFIX}canary_rollbacks_total`, help: 'Canary candidates rolled back, by the check that failed (labelAgreement, negativeShareChange, scoreDrift, errorRate, p99Latency, or deadline: the texts of a step not compared within progressDeadlineSeconds).',
    labelNames: ['namespace', 'name', 'check'], registers: [this.registry],
  });
  readonly canaryPromotions = new Counter({
    name: `${PREFIX}canary_promotions_total`, help: 'Canary candidates that passed every step and now serve all traffic.', labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly leader = new Gauge({ name: `${PREFIX}leader`, help: '1 while this instance holds the leader lease.', registers: [this.registry] });
  readonly autoscalerDesired = new Gauge({
    name: `${PREFIX}autoscaler_desired_replicas`, help: 'Replicas the builtin autoscaler last decided on; exported by the leader only.',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly autoscalerObserved = new Gauge({
    name: `${PREFIX}autoscaler_observed`, help: 'Autoscaling metric summed over ready pods, averaged over the stable window; absent while no pod answers.',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly autoscalerScrapeErrors = new Counter({
    name: `${PREFIX}autoscaler_scrape_errors_total`, help: 'Ready runtime pods whose /metrics did not answer in time or could not be read.',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly kafkaLag = new Gauge({
    name: `${PREFIX}kafka_lag_records`, help: 'Metric kafkaLag: records of the input topic the consumer group has not committed, as the operator last read them from the brokers.',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly kafkaPartitions = new Gauge({
    name: `${PREFIX}kafka_topic_partitions`, help: 'Metric kafkaLag: partitions of the input topic, the most replicas the lag asks for.',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  readonly kafkaLagReadDuration = new Histogram({
    name: `${PREFIX}kafka_lag_read_duration_seconds`, help: 'Metric kafkaLag: time to read a consumer group\'s lag from the brokers, successful reads only.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly kafkaLagReadErrors = new Counter({
    name: `${PREFIX}kafka_lag_read_errors_total`, help: 'Metric kafkaLag: ticks on which the consumer group\'s lag could not be read (brokers unreachable, credentials missing or refused, topic absent).',
    labelNames: ['namespace', 'name'], registers: [this.registry],
  });
  /** Alerts (a stuck rollout) read the conditions here instead of needing kube-state-metrics' CRD support. */
  private readonly modelCondition = new Gauge({
    name: `${PREFIX}model_condition`, help: '1 for each condition a SentimentModel has, by type, status and reason; exported by the leader only.',
    labelNames: ['namespace', 'name', 'type', 'status', 'reason'], registers: [this.registry],
  });
  /** The condition series set per model: prom-client removes a series only by its full label set. */
  private readonly conditionSeries = new Map<string, Record<string, string>[]>();
  private depthSource: () => number = () => 0;
  readonly queueDepth: Gauge = new Gauge({
    name: `${PREFIX}workqueue_depth`, help: 'Keys waiting in the work queue.', registers: [this.registry],
    collect: () => {
      this.queueDepth.set(this.depthSource());
    },
  });

  private cacheSizes: () => Record<string, number> = () => ({});
  /** Every instance exports it, leader or not: a follower shows its caches are warm, and tests fence on what an instance has seen. */
  readonly cachedObjects: Gauge = new Gauge({
    name: `${PREFIX}cached_objects`, help: 'Objects in the informer caches, by cache (models, pods, ...).', labelNames: ['cache'], registers: [this.registry],
    collect: () => {
      for (const [cache, n] of Object.entries(this.cacheSizes())) this.cachedObjects.set({ cache }, n);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** Replaces the model's condition series; no conditions (a deleted model) removes them. */
  setModelConditions(namespace: string, name: string, conditions: { type: string; status: string; reason: string }[] = []): void {
    const key = `${namespace}/${name}`;
    for (const labels of this.conditionSeries.get(key) ?? []) this.modelCondition.remove(labels);
    const series = conditions.map(({ type, status, reason }) => ({ namespace, name, type, status, reason }));
    for (const labels of series) this.modelCondition.set(labels, 1);
    if (series.length > 0) this.conditionSeries.set(key, series);
    else this.conditionSeries.delete(key);
  }

  /** A follower reports nothing: the new leader's series are the truth. */
  clearModelConditions(): void {
    this.modelCondition.reset();
    this.conditionSeries.clear();
  }

  setCacheSizeSource(source: () => Record<string, number>): void {
    this.cacheSizes = source;
  }

  /** The queue is rebuilt on every leadership term; the gauge reads whichever is current. */
  setQueueDepthSource(source: () => number): void {
    this.depthSource = source;
  }
}
