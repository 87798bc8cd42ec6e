import type { V1Pod } from '@kubernetes/client-node';
import { CANARY_SERIES } from '#contract/canary.js';
import { fetchMetricsText, parseSamples, type Sample } from '#contract/metrics-text.js';
import { isReadyPod } from '../autoscaler/collector.js';
import type { StepFigures } from '../controller/canary.js';

const WANTED = new Set([
  CANARY_SERIES.compared, CANARY_SERIES.agreeing, CANARY_SERIES.negative, CANARY_SERIES.scoreSum, CANARY_SERIES.candidateRequests,
  `${CANARY_SERIES.candidateDuration}_bucket`,
]);

export interface StepKey {
  namespace: string;
  model: string;
  revision: string;
  step: number;
}

const emptyFigures = (): StepFigures => ({
  compared: 0, agreeing: 0, negative: { stable: 0, candidate: 0 }, scoreSum: { stable: {}, candidate: {} }, requests: { ok: 0, error: 0, overloaded: 0 }, duration: [],
});

/** Adds one router's samples of the step to `into`: every counter sums across routers, the histogram bucket by bucket. */
export function addStep(into: StepFigures, samples: readonly Sample[], key: StepKey): StepFigures {
  const buckets = new Map(into.duration.map((b) => [b.le, b.count]));
  for (const { name, labels: l, value } of samples) {
    if (l.namespace !== key.namespace || l.model !== key.model || l.revision !== key.revision || l.step !== String(key.step)) continue;
    // A value that is not a number adds nothing; the rest of that router's samples still count.
    if (Number.isNaN(value)) continue;
    const side = l.side === 'stable' || l.side === 'candidate' ? l.side : undefined;
    if (name === CANARY_SERIES.compared) into.compared += value;
    else if (name === CANARY_SERIES.agreeing) into.agreeing += value;
    else if (name === CANARY_SERIES.negative && side) into.negative[side] += value;
    else if (name === CANARY_SERIES.scoreSum && side && l.label !== undefined) {
      // A label from outside: a null-prototype record keeps "__proto__" a plain key.
      const sums = into.scoreSum[side];
      sums[l.label] = (sums[l.label] ?? 0) + value;
    } else if (name === CANARY_SERIES.candidateRequests && (l.outcome === 'ok' || l.outcome === 'error' || l.outcome === 'overloaded')) into.requests[l.outcome] += value;
    else if (name === `${CANARY_SERIES.candidateDuration}_bucket` && l.le !== undefined) {
      const le = l.le === '+Inf' ? Infinity : Number(l.le);
      if (!Number.isNaN(le)) buckets.set(le, (buckets.get(le) ?? 0) + value);
    }
  }
  into.duration = [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return into;
}

export interface ScraperOptions {
  /** The router pods, listed from the apiserver. */
  routers(): Promise<readonly V1Pod[]>;
  /** Base URL of a router pod's /metrics. */
  address(pod: V1Pod): string | undefined;
  timeoutMs: number;
  /** Scrapes younger than this are reused: several models analyzed at once share one round. */
  maxAgeMs: number;
  clock(): number;
}

/**
 * Reads the canary series from every ready router pod. Figures come back only when every ready
 * router answered: a step judged on part of the routers could pass on a sample that leaves out
 * the texts a failing router saw.
 */
export class CanaryScraper {
  private last: { at: number; samples: Promise<Sample[][] | undefined> } | undefined;

  constructor(private readonly opts: ScraperOptions) {}

  async figures(key: StepKey): Promise<StepFigures | undefined> {
    const now = this.opts.clock();
    if (!this.last || now - this.last.at >= this.opts.maxAgeMs) this.last = { at: now, samples: this.round() };
    const perRouter = await this.last.samples;
    if (!perRouter) return undefined;
    const scoreSum = { stable: Object.create(null) as Record<string, number>, candidate: Object.create(null) as Record<string, number> };
    return perRouter.reduce((acc, samples) => addStep(acc, samples, key), { ...emptyFigures(), scoreSum });
  }

  private async round(): Promise<Sample[][] | undefined> {
    try {
      const pods = (await this.opts.routers()).filter(isReadyPod);
      if (pods.length === 0) return undefined;
      const texts = await Promise.all(pods.map((p) => this.scrape(p)));
      if (texts.some((t) => t === undefined)) return undefined;
      return texts.map((t) => parseSamples(t ?? '', WANTED));
    } catch {
      return undefined;
    }
  }

  private async scrape(pod: V1Pod): Promise<string | undefined> {
    const base = this.opts.address(pod);
    return base === undefined ? undefined : fetchMetricsText(base, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
  }
}
