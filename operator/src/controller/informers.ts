import {
  AppsV1Api, CoreV1Api, CustomObjectsApi, ListWatch, PolicyV1Api, Watch,
  type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache,
  type V1ConfigMap, type V1Deployment, type V1Node, type V1Pod, type V1PodDisruptionBudget, type V1Service,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, GROUP, KIND, LABEL_MODEL, PLURAL, VERSION, type SentimentModel } from '../api/v1alpha1/index.js';
import { nodeForCapacity, podForCapacity } from './capacity.js';
import { loggable } from './errors.js';
import { MANAGED_BY } from './resources/names.js';

const OWNED = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
/** Pods holding a node's resources; a pod that turns terminal leaves the cache as if deleted. */
const BOUND_NONTERMINAL = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

type Lister<T extends KubernetesObject> = (namespace: string | undefined, labelSelector: string | undefined) => Promise<KubernetesListObject<T>>;

interface Resource<T extends KubernetesObject> {
  kind: string;
  /** API path up to the optional namespace segment, e.g. /apis/apps/v1. */
  prefix: string;
  plural: string;
  labelSelector?: string;
  fieldSelector?: string;
  list: Lister<T>;
  /** Keeps only the fields the operator reads, for kinds cached cluster-wide. */
  slim?: (obj: T) => T;
}

/** A change seen on a watched object; handlers only turn it into a work-queue key. */
export type ChangeHandler = (kind: string, obj: KubernetesObject, deleted: boolean) => void;

/** Watch events and list items without managedFields, which nothing reads and which would double the cache's memory. */
class LeanWatch<T extends KubernetesObject> extends Watch {
  constructor(kubeConfig: KubeConfig, private readonly trim: (obj: T) => T) {
    super(kubeConfig);
  }

  override watch(...[path, params, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    // An ERROR event carries a Status, whose code (410: relist) ListWatch reads.
    return super.watch(path, params, (phase, obj: T, raw) => callback(phase, phase === 'ERROR' ? obj : this.trim(obj), raw), done);
  }
}

function lean<T extends KubernetesObject>(obj: T): T {
  if (obj?.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

/**
 * One kind of object, watched cluster-wide or in each configured namespace, and readable as a
 * cache. client-node's ListWatch reconnects by itself only after a 410 or a timeout; on any other
 * error it stops, so it is restarted here with backoff and the operator never exits over a watch.
 */
export class Watched<T extends KubernetesObject> implements ObjectCache<T> {
  private readonly parts = new Map<string, ListWatch<T>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private unsynced: number;
  private stopped = false;
  private markSynced!: () => void;
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(kubeConfig: KubeConfig, private readonly resource: Resource<T>, namespaces: string[], private readonly log: Logger, onChange: ChangeHandler) {
    const scopes = namespaces.length > 0 ? namespaces : [''];
    this.unsynced = scopes.length;
    const trim = (obj: T) => (resource.slim ? resource.slim(lean(obj)) : lean(obj));
    const watch = new LeanWatch(kubeConfig, trim);
    for (const ns of scopes) {
      const path = `${resource.prefix}${ns ? `/namespaces/${ns}` : ''}/${resource.plural}`;
      const list = async () => {
        const result = await resource.list(ns || undefined, resource.labelSelector);
        result.items = result.items.map(trim);
        return result;
      };
      const lw = new ListWatch<T>(path, watch, list, false, resource.labelSelector, resource.fieldSelector);
      lw.on('add', (obj) => onChange(resource.kind, obj, false));
      lw.on('update', (obj) => onChange(resource.kind, obj, false));
      lw.on('delete', (obj) => onChange(resource.kind, obj, true));
      this.parts.set(ns, lw);
    }
  }

  get isSynced(): boolean {
    return this.unsynced === 0;
  }

  start(): void {
    for (const [ns, lw] of this.parts) this.run(ns, lw, FIRST_RETRY_MS, true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all([...this.parts.values()].map((lw) => lw.stop()));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.part(namespace)?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.part(namespace)?.list(namespace) ?? [];
    return [...this.parts.values()].flatMap((lw) => lw.list());
  }

  private part(namespace: string | undefined): ListWatch<T> | undefined {
    return this.parts.get('') ?? this.parts.get(namespace ?? '');
  }

  private run(ns: string, lw: ListWatch<T>, delayMs: number, first: boolean): void {
    let failed = false;
    const where = `${this.resource.kind}${ns ? ` in ${ns}` : ''}`;
    const onError = (err: unknown) => {
      lw.off('error', onError);
      if (this.stopped || failed) return; // stop() aborts the watch, which reports as an error
      failed = true;
      this.log.warn({ err: loggable(err), watch: where, retryInMs: delayMs }, 'list/watch failed; restarting it');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.run(ns, lw, Math.min(delayMs * 2, MAX_RETRY_MS), first);
      }, delayMs);
      this.timers.add(timer);
    };
    lw.on('error', onError);
    lw.start().then(
      () => {
        if (failed || this.stopped) return;
        delayMs = FIRST_RETRY_MS;
        if (first && --this.unsynced === 0) this.markSynced();
        first = false;
      },
      (err: unknown) => onError(err),
    );
  }
}

export interface Caches {
  models: Watched<SentimentModel>;
  configMaps: Watched<V1ConfigMap>;
  deployments: Watched<V1Deployment>;
  services: Watched<V1Service>;
  pdbs: Watched<V1PodDisruptionBudget>;
  pods: Watched<V1Pod>;
  nodes: Watched<V1Node>;
  /** Every pod bound to a node, in all namespaces. */
  scheduledPods: Watched<V1Pod>;
}

/**
 * The SentimentModels and everything the operator owns, labelled managed-by=sentiment-operator;
 * and, for the GPU capacity a rollout strategy depends on, the nodes and the pods bound to them.
 */
export function makeCaches(kc: KubeConfig, namespaces: string[], log: Logger, onChange: ChangeHandler): Caches {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watched = <T extends KubernetesObject>(r: Resource<T>) => new Watched(kc, r, namespaces, log, onChange);
  // GPU nodes are shared by every namespace, so these are cluster-wide whatever namespaces are configured.
  // They are read when a rollout starts and are never a reason to reconcile, so their changes queue nothing.
  const clusterWide = <T extends KubernetesObject>(r: Resource<T>) => new Watched(kc, r, [], log, () => undefined);
  return {
    models: watched<SentimentModel>({
      kind: KIND, prefix: `/apis/${API_VERSION}`, plural: PLURAL,
      list: (namespace) => (namespace
        ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })
        : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<KubernetesListObject<SentimentModel>>,
    }),
    configMaps: watched<V1ConfigMap>({
      kind: 'ConfigMap', prefix: '/api/v1', plural: 'configmaps', labelSelector: OWNED,
      list: (namespace, labelSelector) => (namespace ? core.listNamespacedConfigMap({ namespace, labelSelector }) : core.listConfigMapForAllNamespaces({ labelSelector })),
    }),
    deployments: watched<V1Deployment>({
      kind: 'Deployment', prefix: '/apis/apps/v1', plural: 'deployments', labelSelector: OWNED,
      list: (namespace, labelSelector) => (namespace ? apps.listNamespacedDeployment({ namespace, labelSelector }) : apps.listDeploymentForAllNamespaces({ labelSelector })),
    }),
    services: watched<V1Service>({
      kind: 'Service', prefix: '/api/v1', plural: 'services', labelSelector: OWNED,
      list: (namespace, labelSelector) => (namespace ? core.listNamespacedService({ namespace, labelSelector }) : core.listServiceForAllNamespaces({ labelSelector })),
    }),
    pdbs: watched<V1PodDisruptionBudget>({
      kind: 'PodDisruptionBudget', prefix: '/apis/policy/v1', plural: 'poddisruptionbudgets', labelSelector: OWNED,
      list: (namespace, labelSelector) => (namespace
        ? policy.listNamespacedPodDisruptionBudget({ namespace, labelSelector })
        : policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector })),
    }),
    pods: watched<V1Pod>({
      kind: 'Pod', prefix: '/api/v1', plural: 'pods', labelSelector: OWNED,
      list: (namespace, labelSelector) => (namespace ? core.listNamespacedPod({ namespace, labelSelector }) : core.listPodForAllNamespaces({ labelSelector })),
    }),
    nodes: clusterWide<V1Node>({ kind: 'Node', prefix: '/api/v1', plural: 'nodes', slim: nodeForCapacity, list: () => core.listNode() }),
    scheduledPods: clusterWide<V1Pod>({
      kind: 'Pod', prefix: '/api/v1', plural: 'pods', fieldSelector: BOUND_NONTERMINAL, slim: podForCapacity,
      list: () => core.listPodForAllNamespaces({ fieldSelector: BOUND_NONTERMINAL }),
    }),
  };
}

/** The SentimentModel a watched object belongs to, as a work-queue key. */
export function ownerKey(kind: string, obj: KubernetesObject): string | undefined {
  const ns = obj.metadata?.namespace;
  if (!ns) return undefined;
  if (kind === KIND) return `${ns}/${obj.metadata?.name}`;
  // Pods are owned by ReplicaSets, so they are matched by the model label the pod template carries.
  if (kind === 'Pod') {
    const model = obj.metadata?.labels?.[LABEL_MODEL];
    return model ? `${ns}/${model}` : undefined;
  }
  const owner = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === KIND && r.apiVersion === API_VERSION);
  return owner ? `${ns}/${owner.name}` : undefined;
}
