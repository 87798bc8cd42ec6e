import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, LABEL_MODEL, PLURAL, type SentimentModel } from '../../../operator/src/api/v1alpha1/index.js';
import { resourcePath, type KubeClient } from '../../../operator/src/kube/client.js';
import { loggable } from '../../../operator/src/kube/errors.js';
import { Informer } from '../../../operator/src/kube/informer.js';
import { Catalog, routedModel, sameRoute, SERVICE_NAME_LABEL, type EndpointAddress, type RoutedModel } from './catalog.js';

/** Called with a model whose route changed, or with `undefined` as `now` once it is gone. */
export type RouteListener = (before: RoutedModel | undefined, now: RoutedModel | undefined) => void;

/**
 * Keeps of a SentimentModel only what routing reads. The canary's fields are kept untyped, as
 * they came: canaryView() checks them when the route is built.
 */
function slimModel(model: SentimentModel): SentimentModel {
  const { name, namespace, uid, generation, deletionTimestamp, resourceVersion } = model.metadata;
  const { rollout } = model.spec as { rollout?: unknown };
  const { canary } = (model.status ?? {}) as { canary?: unknown };
  return {
    apiVersion: model.apiVersion, kind: model.kind,
    metadata: { name, namespace, uid, generation, deletionTimestamp, resourceVersion },
    spec: { replicas: model.spec.replicas, autoscaling: model.spec.autoscaling, routing: model.spec.routing, rollout } as SentimentModel['spec'],
    ...(canary !== undefined ? { status: { canary } as SentimentModel['status'] } : {}),
  };
}

function slimSlice(slice: V1EndpointSlice): V1EndpointSlice {
  return {
    addressType: slice.addressType,
    metadata: { name: slice.metadata?.name, namespace: slice.metadata?.namespace, labels: slice.metadata?.labels, resourceVersion: slice.metadata?.resourceVersion },
    ports: slice.ports,
    endpoints: (slice.endpoints ?? []).map((e) => ({ addresses: e.addresses, conditions: e.conditions, targetRef: e.targetRef })),
  };
}

/**
 * The SentimentModels and the EndpointSlices of their Services, watched through the operator's
 * kube layer (list + watch caches that reconnect by themselves), folded into the Catalog that
 * requests are routed by. Routing never asks DNS or the apiserver: a pod's address comes from
 * its EndpointSlice as soon as the endpoint turns ready.
 */
export class Discovery {
  readonly catalog = new Catalog();
  /** By namespace, or under '' for every namespace. */
  private readonly models = new Map<string, Informer<SentimentModel>>();
  private readonly slices = new Map<string, Informer<V1EndpointSlice>>();
  private readonly listeners: RouteListener[] = [];

  constructor(client: KubeClient, namespaces: string[], private readonly address: EndpointAddress, log: Logger) {
    for (const ns of namespaces.length > 0 ? namespaces : ['']) {
      const onError = (what: string) => (err: unknown, retryInMs: number) => log.warn({ err: loggable(err), watch: `${what}${ns ? ` in ${ns}` : ''}`, retryInMs }, 'list/watch failed; retrying');
      this.models.set(ns, new Informer<SentimentModel>(client, {
        path: resourcePath(API_VERSION, PLURAL, ns), keep: slimModel,
        onChange: (model) => this.refresh(model.metadata.namespace, model.metadata.name),
        onError: onError('SentimentModel'),
      }));
      // The operator's Services carry the model label, and the EndpointSlice controller copies a
      // Service's labels onto its slices; a candidate's Service (`<model>-canary`) names its model in that label.
      this.slices.set(ns, new Informer<V1EndpointSlice>(client, {
        path: resourcePath('discovery.k8s.io/v1', 'endpointslices', ns), labelSelector: LABEL_MODEL, keep: slimSlice,
        onChange: (slice) => {
          const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
          const namespace = slice.metadata?.namespace;
          if (!service || !namespace) return;
          this.refresh(namespace, service);
          const model = slice.metadata?.labels?.[LABEL_MODEL];
          if (model && model !== service) this.refresh(namespace, model);
        },
        onError: onError('EndpointSlice'),
      }));
    }
  }

  get isSynced(): boolean {
    return this.informers().every((i) => i.isSynced);
  }

  get synced(): Promise<void> {
    return Promise.all(this.informers().map((i) => i.synced)).then(() => undefined);
  }

  onRouteChange(listener: RouteListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    for (const informer of this.informers()) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  /** The cached SentimentModel itself, for the activator's write. */
  model(namespace: string, name: string): SentimentModel | undefined {
    return this.part(this.models, namespace)?.get(name, namespace);
  }

  private refresh(namespace: string, name: string): void {
    const model = this.model(namespace, name);
    const before = this.catalog.get(namespace, name);
    let now: RoutedModel | undefined;
    if (model) {
      now = routedModel(model, this.part(this.slices, namespace)?.list(namespace) ?? [], this.address);
      this.catalog.set(now);
    } else {
      this.catalog.delete(namespace, name);
    }
    if (sameRoute(before, now)) return;
    for (const listener of this.listeners) listener(before, now);
  }

  private part<T>(informers: Map<string, T>, namespace: string): T | undefined {
    return informers.get('') ?? informers.get(namespace);
  }

  private informers(): Informer<SentimentModel | V1EndpointSlice>[] {
    return [...this.models.values(), ...this.slices.values()] as Informer<SentimentModel | V1EndpointSlice>[];
  }
}
