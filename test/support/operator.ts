// The operator in-process, through the same run() as main.ts, plus SentimentModel helpers for the
// operator integration suites.
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Condition, type SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { defaultAndValidate, type OperatorConfig } from '../../operator/src/config.js';
import { parseKubeConfig } from '../../operator/src/kube/config.js';
import { run, type Operator, type RunOptions } from '../../operator/src/run.js';
import { applyObject, deleteObject, isNotFound, waitFor } from './kube.js';

export const RUNTIME_IMAGE = 'ghcr.io/example/sentiment-runtime:0.1.0';
export const MODEL_IMAGE = 'ghcr.io/example/sst2-model:1.0.0';

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type TestOperatorConfig = DeepPartial<OperatorConfig>;

export interface RunningOperator extends Operator {
  identity: string;
  /** Graceful stop, as on SIGTERM: in-flight reconciles finish, the lease is released. */
  stop(): Promise<void>;
  /** sentiment_operator_api_writes_total summed over its labels, scraped from /metrics. */
  writes(): Promise<number>;
  /** A series from /metrics, summed over the label sets matching `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/**
 * Test defaults: loopback on a free port, short leader-election timings (the lease in
 * `default`), a quick retry backoff, no periodic resync unless a test asks, and quiet logs
 * (SENTIMENT_TEST_LOG=debug shows them).
 */
export function testConfig(overrides: TestOperatorConfig = {}): OperatorConfig {
  const identity = overrides.leaderElection?.identity ?? `test-${randomBytes(3).toString('hex')}`;
  return defaultAndValidate({
    workers: 2,
    resyncSeconds: 0,
    logLevel: process.env.SENTIMENT_TEST_LOG ?? 'warn',
    ...overrides,
    backoff: { baseDelayMs: 100, maxDelayMs: 2000, ...overrides.backoff },
    http: { host: '127.0.0.1', port: 0, ...overrides.http },
    leaderElection: {
      namespace: 'default', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250, ...overrides.leaderElection, identity,
    },
  });
}

export async function startOperator(kubeConfig: KubeConfig, overrides: TestOperatorConfig = {}, opts: RunOptions = {}): Promise<RunningOperator> {
  const cfg = testConfig(overrides);
  const abort = new AbortController();
  // Through the operator's own kubeconfig reader, as main.ts goes (client-node exports the standard format).
  const op = await run(abort.signal, parseKubeConfig(kubeConfig.exportConfig()), cfg, opts);
  const metric = async (name: string, labels: Record<string, string> = {}) => sumMetric(await scrape(op.port), name, labels);
  return {
    ...op,
    identity: cfg.leaderElection.identity,
    stop: async () => {
      abort.abort();
      await op.done;
    },
    writes: () => metric('sentiment_operator_api_writes_total'),
    metric,
  };
}

export async function scrape(port: number, path = '/metrics'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.text();
}

/** Sums the samples of one metric whose labels include `labels` (Prometheus text format). */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** A CPU int8 model with the runtime pinned by tag, plus `spec` on top (shallowly per top-level field). */
export function modelManifest(namespace: string, name: string, spec: Record<string, unknown> = {}): Record<string, unknown> & { metadata: { name: string; namespace: string } } {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      model: { image: { reference: MODEL_IMAGE } },
      quantization: 'int8',
      runtime: { image: RUNTIME_IMAGE },
      resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
      ...spec,
    },
  };
}

export async function applyModel(kc: KubeConfig, namespace: string, name: string, spec: Record<string, unknown> = {}): Promise<SentimentModel> {
  return applyObject(kc, modelManifest(namespace, name, spec)) as unknown as Promise<SentimentModel>;
}

export async function deleteModel(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  await deleteObject(kc, { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace } });
}

export async function readModel(kc: KubeConfig, namespace: string, name: string): Promise<SentimentModel | undefined> {
  try {
    return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as SentimentModel;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function condition(model: SentimentModel | undefined, type: string): Condition | undefined {
  return model?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the model's status satisfies `accept` and returns the model. */
export async function waitForModel(kc: KubeConfig, namespace: string, name: string, accept: (m: SentimentModel) => boolean, timeoutMs = 45_000, what = 'status'): Promise<SentimentModel> {
  let last: SentimentModel | undefined;
  return waitFor(async () => {
    last = await readModel(kc, namespace, name);
    return last && accept(last) ? last : undefined;
  }, timeoutMs, () => `SentimentModel ${namespace}/${name}: ${what} not reached; status=${JSON.stringify(last?.status)}`);
}

/** Like waitForModel for many models of one namespace, with one list call per poll. */
export async function waitForModels(kc: KubeConfig, namespace: string, names: string[], accept: (m: SentimentModel) => boolean, timeoutMs = 45_000): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  let pending: string[] = names;
  await waitFor(async () => {
    const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })) as { items: SentimentModel[] };
    const ok = new Set(list.items.filter(accept).map((m) => m.metadata.name));
    pending = names.filter((n) => !ok.has(n));
    return pending.length === 0;
  }, timeoutMs, () => `${pending.length} SentimentModels in ${namespace} not there yet: ${pending.slice(0, 10).join(', ')}`, 250);
}

export const isReady = (m: SentimentModel) => condition(m, 'Ready')?.status === 'True' && m.status?.observedGeneration === m.metadata.generation;

/** Every status a model goes through, from a watch: for asserting on states that pass quickly. */
export async function recordStatuses(kc: KubeConfig, namespace: string, name: string): Promise<StatusRecorder> {
  const seen: SentimentModel[] = [];
  const path = `/apis/${API_VERSION}/namespaces/${namespace}/${PLURAL}`;
  const controller = await new Watch(kc).watch(path, { fieldSelector: `metadata.name=${name}` }, (_type, obj: SentimentModel) => seen.push(obj), () => undefined);
  return {
    seen,
    stop: () => controller.abort(),
    // A state read with a GET can reach the test before the watch delivers it.
    stopAfter: async (last) => {
      const version = last.metadata.resourceVersion;
      await waitFor(() => seen.some((m) => m.metadata.resourceVersion === version), 10_000, `the watch never delivered ${namespace}/${name} at resourceVersion ${version}`);
      controller.abort();
    },
  };
}

export interface StatusRecorder {
  seen: SentimentModel[];
  stop(): void;
  /** Stops once the watch has delivered `last` (a state the test read), so `seen` ends with it. */
  stopAfter(last: SentimentModel): Promise<void>;
}
