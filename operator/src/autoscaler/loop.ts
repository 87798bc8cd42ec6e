import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { LABEL_MODEL, metaTime, type AutoscalerState, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import { classify, Failure, loggable } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { OperatorMetrics } from '../metrics.js';
import { CANARY_LABEL } from '#contract/canary.js';
import { isReadyPod, type MetricName, type PodSample } from './collector.js';
import { type AutoscalingSettings, type Decision, decide, parseState, Reason } from './decide.js';
import { type Activity, decideWithZero, recordActivity } from './idle.js';
import { type LagInput, type ProducedCount, producedRates } from './lag.js';
import { inWarmWindow } from './warm.js';

type AutoscalingStatus = NonNullable<SentimentModelStatus['autoscaling']>;

/** Its own field manager, so the reconciler's status applies and ours never remove each other's fields. */
export const AUTOSCALER_FIELD_MANAGER = 'sentiment-autoscaler';

export interface AutoscalerWriter {
  applyStatus(model: SentimentModel, status: SentimentModelStatus, fieldManager: string): Promise<void>;
  scale(model: SentimentModel, replicas: number, fieldManager: string): Promise<void>;
}

export interface AutoscalerLoopDeps {
  /** The models and pods as the informer caches hold them. */
  models(): readonly SentimentModel[];
  pods(namespace: string): readonly V1Pod[];
  /** Each pod's metric, or for kafkaLag its stream series; a pod that did not answer has neither. */
  sample(pods: readonly V1Pod[], metric: MetricName): Promise<ReadonlyMap<string, PodSample>>;
  /** Metric kafkaLag: the consumer group's lag from the brokers; rejects when it cannot be read. */
  readLag(model: SentimentModel): Promise<{ lag: number; partitions: number }>;
  /** The model no longer needs its lag read (autoscaling off, model gone). */
  forgetLag(key: string): Promise<void>;
  writer: AutoscalerWriter;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  metrics: OperatorMetrics;
  log: Logger;
  /** Epoch milliseconds: the one clock the decisions see. */
  clock(): number;
  intervalMs: number;
  /** Least time between status writes that only refresh the observed value and the windows. */
  persistIntervalMs: number;
}

/** What this term knows of one model beyond the caches, which show our own writes a watch event late. */
interface Memory {
  uid: string;
  state: AutoscalerState;
  lastScaleTime?: string;
  /** The decision and observed values last persisted, and when. */
  written: { decision: string; reason?: string; observed: string; at: number };
  /** Each pod's produced-records counter at the last tick, for the records/s it manages (metric kafkaLag). */
  produced: Map<string, ProducedCount>;
  /** Why the last lag read failed, until one succeeds: the event is sent once per outage. */
  lagError?: string;
  /** Our last spec.replicas write and the generation it was made against, until the cache shows a newer one. */
  scaled?: { generation: number; replicas: number };
  /** minReplicas 0: when a pod last answered or held a request. */
  activity?: Activity;
}

/**
 * The builtin autoscaler for one leadership term: every interval it scrapes the ready pods of each
 * model with autoscaling enabled and engine builtin, runs decide(), writes spec.replicas through
 * the scale subresource when the decision differs from it, and persists the decision and its
 * windows in status. A new term resumes from that status, so a failover neither forgets a
 * pending scale-down delay nor starts its windows empty.
 *
 * Status writes: a change of the decision (replicas, reason, panic, last scale time) is written
 * at once; a changed observed value, and with it the windows, at most every persistIntervalMs.
 * A steady load therefore writes every persistIntervalMs at most, an idle or constant one not at
 * all. The windows persisted with the last decision are what a successor needs: the pending
 * scale-down delay is held by the recommendation recorded when the decision changed, and metric
 * seconds missing from a stale window are skipped by decide() rather than read as zero.
 */
export class AutoscalerLoop {
  private readonly memory = new Map<string, Memory>();
  private readonly unknownZones = new Set<string>();
  /** Models whose autoscaler status was cleared this term, after autoscaling was turned off or handed to an external engine. */
  private readonly released = new Set<string>();
  private readonly stopping = new AbortController();
  private readonly signal: AbortSignal;
  private running?: Promise<void>;

  constructor(private readonly deps: AutoscalerLoopDeps, term: AbortSignal) {
    this.signal = AbortSignal.any([term, this.stopping.signal]);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Lets the tick in flight finish; only the leader exports the decision gauges. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    this.deps.metrics.autoscalerDesired.reset();
    this.deps.metrics.autoscalerObserved.reset();
    this.deps.metrics.kafkaLag.reset();
    this.deps.metrics.kafkaPartitions.reset();
  }

  private async loop(): Promise<void> {
    while (!this.signal.aborted) {
      const started = performance.now();
      await this.tick();
      await sleep(Math.max(0, this.deps.intervalMs - (performance.now() - started)), undefined, { signal: this.signal }).catch(() => undefined);
    }
  }

  /** One round over every model; public so tests can drive it with a fake clock. */
  async tick(): Promise<void> {
    const now = this.deps.clock();
    const seen = new Set<string>();
    await Promise.all(this.deps.models().map(async (model) => {
      const key = `${model.metadata.namespace}/${model.metadata.name}`;
      seen.add(key);
      try {
        await this.step(key, model, now);
      } catch (err) {
        // A lost term stops the loop anyway; a model deleted since the cache listed it needs nothing more.
        const failure = classify(err);
        if (failure === Failure.LeadershipLost || failure === Failure.NotFound || this.signal.aborted) return;
        // Retried on the next tick: the decision is recomputed and compared with the cache again.
        this.deps.log.warn({ model: key, err: loggable(err) }, 'autoscaler write failed');
      }
    }));
    for (const key of this.memory.keys()) if (!seen.has(key)) this.forget(key);
  }

  private async step(key: string, model: SentimentModel, now: number): Promise<void> {
    const { enabled, engine, metric, ...spec } = model.spec.autoscaling;
    if (!enabled || engine !== 'builtin' || model.metadata.deletionTimestamp) {
      this.forget(key);
      await this.release(model);
      return;
    }
    this.released.delete(model.metadata.uid);
    const labels = { namespace: model.metadata.namespace, name: model.metadata.name };
    // Inside a warm window minReplicas 0 counts as 1: the idle model is not taken to zero, and one at zero is woken.
    const warm = spec.minReplicas === 0 && inWarmWindow(spec.warmWindows, now, (zone) => this.warnUnknownZone(key, zone));
    const settings = warm ? { ...spec, minReplicas: 1 } : spec;
    const pods = this.deps.pods(model.metadata.namespace).filter((p) => p.metadata?.labels?.[LABEL_MODEL] === model.metadata.name && p.metadata.labels[CANARY_LABEL] !== 'true' && isReadyPod(p));
    const lagged = metric === 'kafkaLag';
    const [scraped, lag] = await Promise.all([this.deps.sample(pods, metric), lagged ? this.readLag(model) : undefined]);
    const missing = [...scraped.values()].filter((s) => (lagged ? s.stream : s.value) === undefined).length;
    if (missing > 0) this.deps.metrics.autoscalerScrapeErrors.inc(labels, missing);
    const samples = new Map([...scraped].map(([pod, s]) => [pod, s.value]));

    const memory = this.recall(key, model);
    let kafkaLag: { input?: LagInput } | undefined;
    if (lag) {
      const produced = producedRates(new Map([...scraped].map(([pod, s]) => [pod, s.stream])), memory.produced, now);
      memory.produced = produced.counts;
      kafkaLag = 'error' in lag ? {} : { input: { ...lag, ...produced.rates } };
      await this.noteLagRead(model, memory, lag);
    }
    // kafkaLag reads its lag from the brokers, so it sizes from zero itself; other metrics need idle.ts's answered counters.
    const answered = new Map([...scraped].map(([pod, s]) => [pod, s.answered]));
    // Activity is kept up in a warm window too, so its end takes the model to zero only after a real idle delay.
    if (warm && !lagged) memory.activity = recordActivity(memory.activity, samples, answered, now);
    const d = settings.minReplicas === 0 && !lagged
      ? this.decideWithZero(model, memory, pods, samples, answered, settings, now)
      : decide(memory.state, { readyReplicas: pods.length, samples, settings, ...(kafkaLag ? { kafkaLag } : {}) }, now);
    memory.state = d.state;
    this.deps.metrics.autoscalerDesired.set(labels, d.desiredReplicas);
    if (d.observed) this.deps.metrics.autoscalerObserved.set(labels, d.observed.stable);
    else this.deps.metrics.autoscalerObserved.remove(labels);

    await this.scale(model, memory, d, now);
    await this.persist(model, memory, d, now);
  }

  /** Once per model and zone: every tick would repeat it. */
  private warnUnknownZone(key: string, zone: string): void {
    if (this.unknownZones.has(`${key} ${zone}`)) return;
    this.unknownZones.add(`${key} ${zone}`);
    this.deps.log.warn({ model: key, timeZone: zone }, 'autoscaling.warmWindows names a time zone this operator does not know; that window stays closed');
  }

  private recall(key: string, model: SentimentModel): Memory {
    const known = this.memory.get(key);
    if (known?.uid === model.metadata.uid) return known;
    const persisted = model.status?.autoscaling;
    const memory: Memory = {
      uid: model.metadata.uid,
      state: parseState(persisted?.state),
      lastScaleTime: persisted?.lastScaleTime,
      // Never written by this term: the first changed observed value refreshes the status at once.
      written: persisted
        ? {
          decision: decisionKey(model.status?.desiredReplicas, persisted.reason, persisted.panic ?? false, persisted.lastScaleTime, persisted.drivenBy),
          reason: persisted.reason,
          observed: observedKey(persisted.metricValue, persisted.kafkaLag),
          at: -Infinity,
        }
        : { decision: '', observed: '', at: -Infinity },
      produced: new Map(),
    };
    this.memory.set(key, memory);
    return memory;
  }

  private decideWithZero(
    model: SentimentModel, memory: Memory, pods: readonly V1Pod[], samples: ReadonlyMap<string, number | undefined>,
    answered: ReadonlyMap<string, number | undefined>, settings: AutoscalingSettings, now: number,
  ): Decision {
    memory.activity = recordActivity(memory.activity, samples, answered, now);
    return decideWithZero(memory.state, { readyReplicas: pods.length, samples, settings, current: currentReplicas(model, memory) }, memory.activity, now);
  }

  private async scale(model: SentimentModel, memory: Memory, d: Decision, now: number): Promise<void> {
    const generation = model.metadata.generation ?? 0;
    const current = currentReplicas(model, memory);
    if (d.desiredReplicas === current) return;
    await this.deps.writer.scale(model, d.desiredReplicas, AUTOSCALER_FIELD_MANAGER);
    memory.scaled = { generation, replicas: d.desiredReplicas };
    memory.lastScaleTime = metaTime(now);
    const { metric, target } = model.spec.autoscaling;
    const observed = d.observed ? `${metric} ${round(d.observed.stable)} (panic window ${round(d.observed.panic)})` : `no ${metric} samples`;
    const lag = d.kafkaLag;
    const message = lag
      ? `${current} -> ${d.desiredReplicas} replicas (${d.reason}, driven by ${lag.drivenBy}): kafka lag ${lag.lag} over ${lag.partitions} partitions at ${lag.recordsPerSecondPerReplica === undefined ? 'an unmeasured rate' : `${round(lag.recordsPerSecondPerReplica)} records/s per replica`}, drain within ${model.spec.autoscaling.kafkaLag.drainSeconds} s, asks for ${lag.desiredReplicas}`
      : `${current} -> ${d.desiredReplicas} replicas (${d.reason}): observed ${observed}, target ${target} per replica`;
    this.deps.log.info({ model: `${model.metadata.namespace}/${model.metadata.name}`, from: current, to: d.desiredReplicas, reason: d.reason }, 'scaled');
    await this.deps.events.normal(model, d.desiredReplicas > current ? 'ScaledUp' : 'ScaledDown', message);
  }

  private async persist(model: SentimentModel, memory: Memory, d: Decision, now: number): Promise<void> {
    const metricValue = d.observed ? round(d.observed.stable) : undefined;
    const { drivenBy, kafkaLag } = this.shownLag(model, d);
    const decision = decisionKey(d.desiredReplicas, d.reason, d.panicking, memory.lastScaleTime, drivenBy);
    const observed = observedKey(metricValue, kafkaLag);
    const { written } = memory;
    const refresh = observed !== written.observed && now - written.at >= this.deps.persistIntervalMs;
    if (decision === written.decision && !refresh) return;
    await this.deps.writer.applyStatus(model, {
      desiredReplicas: d.desiredReplicas,
      autoscaling: {
        ...(metricValue !== undefined ? { metricValue } : {}),
        panic: d.panicking,
        reason: d.reason,
        ...(memory.lastScaleTime ? { lastScaleTime: memory.lastScaleTime } : {}),
        ...(drivenBy ? { drivenBy } : {}),
        ...(kafkaLag ? { kafkaLag } : {}),
        state: d.state,
      },
    }, AUTOSCALER_FIELD_MANAGER);
    memory.written = { decision, reason: d.reason, observed, at: now };
    if (d.reason === Reason.MetricsUnavailable && written.reason !== Reason.MetricsUnavailable) {
      await this.deps.events.warning(model, Reason.MetricsUnavailable, `no ready pod answered a ${model.spec.autoscaling.metric} scrape; holding ${d.desiredReplicas} replicas`);
    }
  }

  /** Metric kafkaLag: the lag input to show in status; after a failed read, the last one read, as the decision holds too. */
  private shownLag(model: SentimentModel, d: Decision): Pick<AutoscalingStatus, 'drivenBy' | 'kafkaLag'> {
    if (d.kafkaLag) {
      const { drivenBy, recordsPerSecondPerReplica, ...read } = d.kafkaLag;
      return { drivenBy, kafkaLag: { ...read, ...(recordsPerSecondPerReplica !== undefined ? { recordsPerSecondPerReplica: round(recordsPerSecondPerReplica) } : {}) } };
    }
    if (model.spec.autoscaling.metric !== 'kafkaLag') return {};
    const { drivenBy, kafkaLag } = model.status?.autoscaling ?? {};
    return { ...(drivenBy ? { drivenBy } : {}), ...(kafkaLag ? { kafkaLag } : {}) };
  }

  /** Metric kafkaLag: the read as metrics, and a failure as a Warning event once per outage (the reason is in status with the decision). */
  private async noteLagRead(model: SentimentModel, memory: Memory, read: { error: string } | { lag: number; partitions: number }): Promise<void> {
    const labels = { namespace: model.metadata.namespace, name: model.metadata.name };
    if (!('error' in read)) {
      this.deps.metrics.kafkaLag.set(labels, read.lag);
      this.deps.metrics.kafkaPartitions.set(labels, read.partitions);
      delete memory.lagError;
      return;
    }
    this.deps.metrics.kafkaLagReadErrors.inc(labels);
    if (memory.lagError !== undefined) return;
    memory.lagError = read.error;
    this.deps.log.warn({ model: `${labels.namespace}/${labels.name}`, error: read.error }, 'kafka lag read failed');
    await this.deps.events.warning(model, Reason.KafkaLagUnavailable, `reading consumer group lag from ${model.spec.stream?.kafka.bootstrapServers.join(',')} failed: ${read.error}; holding the last decision`);
  }

  private async readLag(model: SentimentModel): Promise<{ error: string } | { lag: number; partitions: number }> {
    const started = performance.now();
    try {
      const reading = await this.deps.readLag(model);
      this.deps.metrics.kafkaLagReadDuration.observe((performance.now() - started) / 1000);
      return reading;
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Applying an empty status under our field manager removes every field we own, so no stale decision stays on show. */
  private async release(model: SentimentModel): Promise<void> {
    const { uid } = model.metadata;
    if (this.released.has(uid) || (model.status?.autoscaling === undefined && model.status?.desiredReplicas === undefined)) return;
    await this.deps.writer.applyStatus(model, {}, AUTOSCALER_FIELD_MANAGER);
    this.released.add(uid);
  }

  private forget(key: string): void {
    void this.deps.forgetLag(key);
    if (!this.memory.delete(key)) return;
    const [namespace, name] = key.split('/');
    this.deps.metrics.kafkaLag.remove({ namespace, name });
    this.deps.metrics.kafkaPartitions.remove({ namespace, name });
    this.deps.metrics.kafkaLagReadErrors.remove({ namespace, name });
    this.deps.metrics.autoscalerDesired.remove({ namespace, name });
    this.deps.metrics.autoscalerObserved.remove({ namespace, name });
    this.deps.metrics.autoscalerScrapeErrors.remove({ namespace, name });
  }
}

/** spec.replicas: our own last write until the cache shows a newer generation (someone else's write, or ours come back). */
function currentReplicas(model: SentimentModel, memory: Memory): number {
  return memory.scaled?.generation === (model.metadata.generation ?? 0) ? memory.scaled.replicas : model.spec.replicas;
}

function decisionKey(desired: number | undefined, reason: string | undefined, panic: boolean, lastScaleTime: string | undefined, drivenBy: string | undefined): string {
  return JSON.stringify([desired, reason, panic, lastScaleTime, drivenBy]);
}

function observedKey(metricValue: number | undefined, stream: unknown): string {
  return JSON.stringify([metricValue, stream]);
}

/** Status and messages show two decimals; finer differences would only cause writes. */
function round(n: number): number {
  return Math.round(n * 100) / 100;
}
