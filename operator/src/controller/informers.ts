import type { KubernetesObject, V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, LABEL_MODEL, PLURAL, type SentimentModel } from '../api/v1alpha1/index.js';
import { resourcePath, type KubeClient } from '../kube/client.js';
import { loggable } from '../kube/errors.js';
import { Informer } from '../kube/informer.js';
import { nodeForCapacity, podForCapacity } from './capacity.js';
import { ownedWholeFields } from './drift.js';
import { deploymentForCache } from './resources/deployment.js';
import { MANAGED_BY } from './resources/names.js';

const OWNED = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
/** Pods holding a node's resources; a pod that turns terminal leaves the cache as if deleted. */
const BOUND_NONTERMINAL = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';

interface Resource<T extends KubernetesObject> {
  kind: string;
  apiVersion: string;
  plural: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** For children the controller knows by their metadata alone. */
  metadataOnly?: boolean;
  /** Children: their managedFields say whether anyone changed what we own (drift.ts). */
  owned?: boolean;
  /** Keeps only the fields the operator reads. */
  slim?: (obj: T) => T;
}

/** A change seen on a watched object; handlers only turn it into a work-queue key. */
export type ChangeHandler = (kind: string, obj: KubernetesObject, deleted: boolean) => void;

/**
 * managedFields would double the cache's memory. Of a child's, drift detection reads our own
 * entry and what other managers own in the parts we own whole; nothing reads the rest.
 */
function lean<T extends KubernetesObject>(obj: T, ownedKind: string | undefined): T {
  const metadata = obj?.metadata;
  if (!metadata?.managedFields) return obj;
  if (ownedKind) {
    metadata.managedFields = metadata.managedFields.flatMap((e) => ownedWholeFields(ownedKind, e) ?? []);
  } else {
    delete metadata.managedFields;
  }
  return obj;
}

/** One kind of object, watched cluster-wide or in each configured namespace, and readable as one cache. */
export class Watched<T extends KubernetesObject> {
  private readonly parts = new Map<string, Informer<T>>();
  readonly synced: Promise<void>;

  constructor(client: KubeClient, resource: Resource<T>, namespaces: string[], log: Logger, onChange: ChangeHandler) {
    const keep = (obj: T) => {
      const kept = lean(obj, resource.owned ? resource.kind : undefined);
      return resource.slim ? resource.slim(kept) : kept;
    };
    for (const ns of namespaces.length > 0 ? namespaces : ['']) {
      const watch = `${resource.kind}${ns ? ` in ${ns}` : ''}`;
      this.parts.set(ns, new Informer<T>(client, {
        path: resourcePath(resource.apiVersion, resource.plural, ns),
        labelSelector: resource.labelSelector, fieldSelector: resource.fieldSelector, metadataOnly: resource.metadataOnly,
        keep,
        onChange: (obj, deleted) => onChange(resource.kind, obj, deleted),
        onError: (err, retryInMs) => log.warn({ err: loggable(err), watch, retryInMs }, 'list/watch failed; retrying'),
      }));
    }
    this.synced = Promise.all([...this.parts.values()].map((i) => i.synced)).then(() => undefined);
  }

  get isSynced(): boolean {
    return [...this.parts.values()].every((i) => i.isSynced);
  }

  start(): void {
    for (const informer of this.parts.values()) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.parts.values()].map((i) => i.stop()));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.part(namespace)?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.part(namespace)?.list(namespace) ?? [];
    return [...this.parts.values()].flatMap((i) => i.list());
  }

  private part(namespace: string | undefined): Informer<T> | undefined {
    return this.parts.get('') ?? this.parts.get(namespace ?? '');
  }
}

export interface Caches {
  models: Watched<SentimentModel>;
  /** Metadata only. */
  configMaps: Watched<KubernetesObject>;
  /** Cut down by deploymentForCache. */
  deployments: Watched<V1Deployment>;
  /** Metadata only. */
  services: Watched<KubernetesObject>;
  /** Metadata only. */
  pdbs: Watched<KubernetesObject>;
  pods: Watched<V1Pod>;
  nodes: Watched<V1Node>;
  /** Every pod bound to a node, in all namespaces. */
  scheduledPods: Watched<V1Pod>;
}

/**
 * The SentimentModels and everything the operator owns, labelled managed-by=sentiment-operator;
 * and, for the GPU capacity a rollout strategy depends on, the nodes and the pods bound to them.
 */
export function makeCaches(client: KubeClient, namespaces: string[], log: Logger, onChange: ChangeHandler): Caches {
  const watched = <T extends KubernetesObject>(r: Resource<T>) => new Watched(client, r, namespaces, log, onChange);
  // GPU nodes are shared by every namespace, so these are cluster-wide whatever namespaces are configured.
  // They are read when a rollout starts and are never a reason to reconcile, so their changes queue nothing.
  const clusterWide = <T extends KubernetesObject>(r: Resource<T>) => new Watched(client, r, [], log, () => undefined);
  return {
    models: watched<SentimentModel>({ kind: KIND, apiVersion: API_VERSION, plural: PLURAL }),
    // The applied-hash annotation says whether these are as desired, their managedFields whether
    // anyone changed them since, and the owner reference whose they are.
    configMaps: watched({ kind: 'ConfigMap', apiVersion: 'v1', plural: 'configmaps', labelSelector: OWNED, metadataOnly: true, owned: true }),
    services: watched({ kind: 'Service', apiVersion: 'v1', plural: 'services', labelSelector: OWNED, metadataOnly: true, owned: true }),
    pdbs: watched({ kind: 'PodDisruptionBudget', apiVersion: 'policy/v1', plural: 'poddisruptionbudgets', labelSelector: OWNED, metadataOnly: true, owned: true }),
    deployments: watched<V1Deployment>({ kind: 'Deployment', apiVersion: 'apps/v1', plural: 'deployments', labelSelector: OWNED, slim: deploymentForCache, owned: true }),
    pods: watched<V1Pod>({ kind: 'Pod', apiVersion: 'v1', plural: 'pods', labelSelector: OWNED }),
    nodes: clusterWide<V1Node>({ kind: 'Node', apiVersion: 'v1', plural: 'nodes', slim: nodeForCapacity }),
    scheduledPods: clusterWide<V1Pod>({ kind: 'Pod', apiVersion: 'v1', plural: 'pods', fieldSelector: BOUND_NONTERMINAL, slim: podForCapacity }),
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
