// Small, generic helpers for tests that talk to a real apiserver.
import {
  ApiException, AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy,
  type KubeConfig, type KubernetesObject, type CoreV1Event, type V1Deployment, type V1Namespace, type V1Pod,
} from '@kubernetes/client-node';

export type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/**
 * Polls probe until it returns a truthy value and returns that value. A probe that throws counts as
 * "not yet" (the last error is reported). On timeout it throws with message, which may be a function
 * (sync or async) so it can describe the current state of the cluster.
 */
export async function waitFor<T>(probe: Probe<T>, timeoutMs: number, message: string | (() => string | Promise<string>),
  intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const msg = typeof message === 'string' ? message : await Promise.resolve(message()).catch((e: unknown) => `(describe failed: ${String(e)})`);
      const cause = lastError === undefined ? '' : `; last error: ${errorText(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms: ${msg}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

/** A readable one-liner for an ApiException (its status message) or any other error. */
export function errorText(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    const msg = (body as { message?: string } | undefined)?.message;
    return `HTTP ${err.code}${msg ? `: ${msg}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeJson(s: string): unknown {
  try { return JSON.parse(s); } catch { return { message: s }; }
}

/** Server-side apply (force) of any object; returns the live object. */
export async function applyObject<T extends KubernetesObject>(kc: KubeConfig, obj: T, fieldManager = 'integration-test'): Promise<T> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  return api.patch(obj, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

/** Reads an object by apiVersion/kind/namespace/name; undefined when it does not exist. */
export async function readObject<T extends KubernetesObject>(kc: KubeConfig, ref: { apiVersion: string; kind: string; name: string; namespace?: string }): Promise<T | undefined> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  try {
    return await api.read<T>({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } });
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Deletes an object (background propagation) and ignores NotFound. */
export async function deleteObject(kc: KubeConfig, obj: KubernetesObject, propagationPolicy = 'Background'): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  await api.delete(obj, undefined, undefined, undefined, undefined, propagationPolicy).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
}

/**
 * Creates (applies) a namespace and, by default, waits for its default ServiceAccount, without which
 * the ServiceAccount admission plugin rejects pods. Needs kube-controller-manager for that wait.
 */
export async function createNamespace(kc: KubeConfig, name: string, labels: Record<string, string> = {}, waitForServiceAccount = true): Promise<V1Namespace> {
  const ns = await applyObject<V1Namespace>(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  if (waitForServiceAccount) {
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(() => core.readNamespacedServiceAccount({ name: 'default', namespace: name }), 30_000,
      `ServiceAccount ${name}/default was not created (is kube-controller-manager running?)`);
  }
  return ns;
}

export async function listPods(kc: KubeConfig, namespace: string, labelSelector?: string): Promise<V1Pod[]> {
  return (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector })).items;
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function readDeployment(kc: KubeConfig, namespace: string, name: string): Promise<V1Deployment | undefined> {
  return kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace }).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
}

/** True when the controller has observed the latest spec and all wanted replicas are updated, ready and available. */
export function deploymentAvailable(d: V1Deployment | undefined, replicas = d?.spec?.replicas ?? 1): boolean {
  const s = d?.status;
  if (!d || !s || (s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return false;
  const available = s.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false;
  return available && s.readyReplicas === replicas && s.availableReplicas === replicas && s.updatedReplicas === replicas;
}

export async function waitForDeploymentAvailable(kc: KubeConfig, namespace: string, name: string, replicas?: number, timeoutMs = 60_000): Promise<V1Deployment> {
  let last: V1Deployment | undefined;
  return waitFor(async () => {
    last = await readDeployment(kc, namespace, name);
    return deploymentAvailable(last, replicas) ? last : undefined;
  }, timeoutMs, () => `deployment ${namespace}/${name} not available: status=${JSON.stringify(last?.status)}`);
}

/** Events about one object, optionally of one reason (e.g. FailedScheduling). */
export async function listEvents(kc: KubeConfig, namespace: string, involvedObjectName: string, reason?: string): Promise<CoreV1Event[]> {
  const fieldSelector = [`involvedObject.name=${involvedObjectName}`, ...(reason ? [`reason=${reason}`] : [])].join(',');
  return (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector })).items;
}

/** `kubectl get` output as rows of column name -> cell, read by the header's offsets (an empty cell prints as blanks). */
export function parseTable(stdout: string): Record<string, string>[] {
  const [header = '', ...lines] = stdout.trimEnd().split('\n');
  const columns = [...header.matchAll(/\S+/g)].map((match) => ({ name: match[0], start: match.index }));
  return lines.map((line) => Object.fromEntries(columns.map((column, i) => [column.name, line.slice(column.start, columns[i + 1]?.start).trim()])));
}
