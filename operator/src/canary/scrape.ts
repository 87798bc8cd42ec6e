import type { V1Pod } from '@kubernetes/client-node';
import { CANARY_SERIES } from '#contract/canary.js';
import { isReadyPod } from '../autoscaler/collector.js';
import type { StepFigures } from '../controller/canary.js';

/** One sample of Prometheus text exposition: its series name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?[ \t]*$/;
const LABEL = /\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

/**
 * The samples of a /metrics text (format 0.0.4), those of the given series only. A line that
 * does not parse is skipped rather than trusted: a router's /metrics is input like any other.
 */
export function parseSamples(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, name = '', labelText = '', raw = ''] = m;
    if (!names.has(name)) continue;
    const labels = parseLabels(labelText);
    const value = raw === '+Inf' ? Infinity : Number(raw);
    if (labels && !Number.isNaN(value)) out.push({ name, labels, value });
  }
  return out;
}

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) return text.slice(LABEL.lastIndex).trim() === '' ? labels : undefined;
    labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

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
    if (!base) return undefined;
    try {
      const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return await res.text();
    } catch {
      return undefined;
    }
  }
}
