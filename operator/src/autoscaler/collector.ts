import type { V1Pod } from '@kubernetes/client-node';
import { RUNTIME_HTTP_PORT, type SentimentModelSpec } from '../api/v1alpha1/index.js';

/**
 * Scraping, kept apart from the decision (decide.ts) and the writes (loop.ts), as Knative keeps
 * its stats scraper apart from the autoscaler: this file only turns pods into samples.
 */

export type MetricName = SentimentModelSpec['autoscaling']['metric'];

/** The runtime's gauges (runtime/src/metrics.ts) behind each spec.autoscaling.metric. */
export const SERIES: Record<MetricName, string> = {
  inflight: 'sentiment_runtime_inflight_requests',
  queueDepth: 'sentiment_runtime_queue_depth',
};

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
  // The name, then an optional label block (whose quoted values may hold braces), then the value.
  const sample = /^([a-zA-Z_:][\w:]*)(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?[ \t]+(\S+)/;
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = sample.exec(line);
    if (!m || m[1] !== name) continue;
    const value = Number(m[2]);
    if (!Number.isFinite(value)) return undefined;
    total = (total ?? 0) + value;
  }
  return total;
}

export interface CollectorOptions {
  address: PodAddress;
  /** Per scrape; well below the tick interval, so one hung pod cannot stall a tick. */
  timeoutMs: number;
}

export class Collector {
  constructor(private readonly opts: CollectorOptions) {}

  /**
   * The metric of each pod, keyed by pod name, scraped in parallel. A pod that has no address,
   * does not answer in time, answers an error or lacks the series is undefined: decide() counts
   * it as at target instead of as idle.
   */
  async sample(pods: readonly V1Pod[], metric: MetricName): Promise<Map<string, number | undefined>> {
    const values = await Promise.all(pods.map((pod) => this.scrape(pod, SERIES[metric])));
    return new Map(pods.map((pod, i) => [pod.metadata?.name ?? '', values[i]]));
  }

  /** Each pod's count of answered texts (predictions, from the model or the cache): whether it served anything since the last tick. */
  async answered(pods: readonly V1Pod[]): Promise<Map<string, number | undefined>> {
    const values = await Promise.all(pods.map((pod) => this.scrape(pod, ANSWERED_SERIES)));
    return new Map(pods.map((pod, i) => [pod.metadata?.name ?? '', values[i]]));
  }

  private async scrape(pod: V1Pod, series: string): Promise<number | undefined> {
    const base = this.opts.address(pod);
    if (!base) return undefined;
    try {
      // The timeout covers reading the body too, not only the headers.
      const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return readSeries(await res.text(), series);
    } catch {
      return undefined;
    }
  }
}
