import type { V1Pod } from '@kubernetes/client-node';
import { RUNTIME_HTTP_PORT, type SentimentModelSpec } from '../api/v1alpha1/index.js';
import { fetchMetricsText, parseSamples } from '#contract/metrics-text.js';
import type { StreamSample } from './lag.js';

/**
 * Scraping, kept apart from the decision (decide.ts) and the writes (loop.ts), as Knative keeps
 * its stats scraper apart from the autoscaler: this file only turns pods into samples.
 */

export type MetricName = SentimentModelSpec['autoscaling']['metric'];
/** The metrics read from the pods; kafkaLag is read from the brokers. */
export type PodMetricName = Exclude<MetricName, 'kafkaLag'>;

/** The runtime's gauges (runtime/src/metrics.ts) behind each spec.autoscaling.metric read from the pods. */
export const SERIES: Record<PodMetricName, string> = {
  inflight: 'sentiment_runtime_inflight_requests',
  queueDepth: 'sentiment_runtime_queue_depth',
};

/** The runtime's stream series behind the measured records/s per replica (metric kafkaLag). */
export const STREAM_SERIES = {
  lag: 'sentiment_runtime_stream_lag',
  produced: 'sentiment_runtime_stream_produced_records_total',
} as const;

/** The runtime's counter of answered texts, which scale to zero reads (idle.ts). */
export const ANSWERED_SERIES = 'sentiment_runtime_predictions_total';

/** Base URL of a pod's runtime; undefined while it has no address. Injected so tests can stand local processes in for pods. */
export type PodAddress = (pod: V1Pod) => string | undefined;

export const podAddress: PodAddress = (pod) => {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${RUNTIME_HTTP_PORT}`;
};

/** Only Ready pods take traffic from the Service, so only they count as capacity and only they are scraped. */
export function isReadyPod(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * One series from Prometheus text exposition, summed over its label sets (the runtime's gauges
 * have none). Undefined when the series is absent or a sample is not a finite number, so a
 * half-written or foreign /metrics never reads as zero load.
 */
export function readSeries(text: string, name: string): number | undefined {
  const values = readSamples(text, name);
  return values === undefined || values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

/** Every sample of one series, one per label set; undefined when one is not a finite number. */
function readSamples(text: string, name: string): number[] | undefined {
  const values = parseSamples(text, new Set([name])).map((sample) => sample.value);
  return values.every(Number.isFinite) ? values : undefined;
}

/**
 * The stream series of one scrape. The produced counter exists from the consumer's start, so its
 * absence means no stream consumer runs there (undefined); the runtime keeps a lag series for each
 * partition the process holds, so their count is its share of the topic.
 */
export function readStream(text: string): StreamSample | undefined {
  const produced = readSeries(text, STREAM_SERIES.produced);
  const lags = readSamples(text, STREAM_SERIES.lag);
  if (produced === undefined || lags === undefined) return undefined;
  return { assigned: lags.length, produced };
}

/**
 * One pod's scrape: the metric's value, or for kafkaLag the stream series, and its count of
 * answered texts (which scale to zero reads, idle.ts); empty when it could not be read.
 */
export interface PodSample {
  value?: number;
  stream?: StreamSample;
  answered?: number;
}

export interface CollectorOptions {
  address: PodAddress;
  /** Per scrape; well below the tick interval, so one hung pod cannot stall a tick. */
  timeoutMs: number;
}

export class Collector {
  constructor(private readonly opts: CollectorOptions) {}

  /**
   * Each pod's value of the metric, or for kafkaLag its stream series, keyed by pod name, scraped
   * in parallel. A pod that has no address, does not answer in time, answers an error or lacks the
   * series has no value: decide() counts it as at target instead of as idle.
   */
  async sample(pods: readonly V1Pod[], metric: MetricName): Promise<Map<string, PodSample>> {
    const texts = await Promise.all(pods.map((pod) => this.scrape(pod)));
    return new Map(pods.map((pod, i): [string, PodSample] => {
      const text = texts[i];
      const name = pod.metadata?.name ?? '';
      if (text === undefined) return [name, {}];
      const answered = readSeries(text, ANSWERED_SERIES);
      const counted = answered !== undefined ? { answered } : {};
      if (metric === 'kafkaLag') {
        const stream = readStream(text);
        return [name, { ...counted, ...(stream ? { stream } : {}) }];
      }
      const value = readSeries(text, SERIES[metric]);
      return [name, { ...counted, ...(value !== undefined ? { value } : {}) }];
    }));
  }

  private async scrape(pod: V1Pod): Promise<string | undefined> {
    const base = this.opts.address(pod);
    return base === undefined ? undefined : fetchMetricsText(base, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
  }
}
