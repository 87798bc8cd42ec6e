import type { V1Pod } from '@kubernetes/client-node';
import { fetchMetricsText, readSample } from '#contract/metrics-text.js';
import { LABEL_MODEL } from '../../operator/src/api/v1alpha1/index.js';
import { resourcePath, type KubeClient } from '../../operator/src/kube/client.js';

export const COLD_START_PARTS = ['scheduling', 'containerStart', 'modelLoad', 'warmUp', 'ready'] as const;
export type ColdStartPart = (typeof COLD_START_PARTS)[number];
/** Seconds per part, to the hundredth; a part that could not be read is absent. */
export type ColdStartParts = Partial<Record<ColdStartPart, number>>;

/** The runtime's own account of its start (its /metrics), in the first replica. */
export interface RuntimeStartup {
  /** Epoch ms. */
  startedAt: number;
  modelLoadSeconds: number;
  warmUpSeconds: number;
}

export interface ColdStartObservations {
  /** Epoch ms of the router's scale-from-zero write. */
  startedAt: number;
  /** Epoch ms at which the router saw the first endpoint ready. */
  readyAt: number;
  /** Epoch ms of the pod's PodScheduled condition: whole seconds, as the apiserver writes it. */
  scheduledAt?: number;
  runtime?: RuntimeStartup;
}

const hundredths = (ms: number): number => Math.round(Math.max(0, ms) / 10) / 100;

/**
 * Splits a cold start into consecutive parts that sum to the whole, each from what was read:
 * scheduling (the write to PodScheduled), containerStart (to the runtime's process start),
 * modelLoad and warmUp (as the runtime measured them) and ready (the rest, until the router saw
 * the endpoint ready: readiness probe period and endpoint propagation). A part whose start or end
 * is unknown is left out rather than guessed, and so is the runtime's account when its process
 * started before the write (a process of an earlier start, or one not started for this wake).
 * PodScheduled is to the second, so scheduling may read up to a second short and containerStart
 * that much long; boundaries are kept in order so no part is negative.
 */
export function coldStartParts(o: ColdStartObservations): ColdStartParts {
  const parts: ColdStartParts = {};
  let at = o.startedAt;
  const runtime = o.runtime && o.runtime.startedAt >= o.startedAt ? o.runtime : undefined;
  if (o.scheduledAt !== undefined) {
    const scheduled = Math.min(Math.max(o.scheduledAt, at), o.readyAt);
    parts.scheduling = hundredths(scheduled - at);
    at = scheduled;
    if (runtime) parts.containerStart = hundredths(runtime.startedAt - at);
  }
  if (runtime) {
    at = Math.max(at, runtime.startedAt);
    parts.modelLoad = hundredths(runtime.modelLoadSeconds * 1000);
    parts.warmUp = hundredths(runtime.warmUpSeconds * 1000);
    at += (runtime.modelLoadSeconds + runtime.warmUpSeconds) * 1000;
  }
  if (o.scheduledAt !== undefined || runtime) parts.ready = hundredths(o.readyAt - at);
  return parts;
}

export function runtimeStartup(metrics: string): RuntimeStartup | undefined {
  const startedAt = readSample(metrics, 'sentiment_runtime_start_time_seconds');
  const modelLoadSeconds = readSample(metrics, 'sentiment_runtime_startup_seconds', { phase: 'modelLoad' });
  const warmUpSeconds = readSample(metrics, 'sentiment_runtime_startup_seconds', { phase: 'warmUp' });
  if (startedAt === undefined || modelLoadSeconds === undefined || warmUpSeconds === undefined || modelLoadSeconds < 0 || warmUpSeconds < 0) return undefined;
  return { startedAt: startedAt * 1000, modelLoadSeconds, warmUpSeconds };
}

/** Epoch ms of a pod's PodScheduled=True condition, if it has a valid one. */
export function scheduledAt(pod: V1Pod): number | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'True');
  const at = condition?.lastTransitionTime === undefined ? NaN : new Date(condition.lastTransitionTime).getTime();
  return Number.isFinite(at) ? at : undefined;
}

const isReady = (pod: V1Pod): boolean =>
  !pod.metadata?.deletionTimestamp && (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

/** How long the reads of the first replica may take before its parts are left out. */
const READ_TIMEOUT_MS = 3_000;

/**
 * What the first replica tells of its start: its pod's PodScheduled time, and the runtime's
 * startup from its endpoint's /metrics (open without a token unless auth.metrics). Each only while
 * exactly one pod, or one endpoint, is ready, so it is the first replica's; anything unreadable is
 * undefined. Never throws.
 */
export async function observeFirstReplica(client: KubeClient, namespace: string, model: string, ready: readonly string[]): Promise<Pick<ColdStartObservations, 'scheduledAt' | 'runtime'>> {
  const signal = AbortSignal.timeout(READ_TIMEOUT_MS);
  const [pods, metrics] = await Promise.all([
    client.request<{ items?: V1Pod[] }>('GET', resourcePath('v1', 'pods', namespace), { query: { labelSelector: `${LABEL_MODEL}=${model}` }, signal })
      .then((list) => (list.items ?? []).filter(isReady), () => []),
    ready.length === 1
      ? fetchMetricsText(ready[0]!, { signal })
      : undefined,
  ]);
  return {
    scheduledAt: pods.length === 1 ? scheduledAt(pods[0]!) : undefined,
    runtime: metrics === undefined ? undefined : runtimeStartup(metrics),
  };
}
