import {
  CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type CoreV1Event, type KubeConfig, type KubernetesObject,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import type { OperatorMetrics } from '../metrics.js';

export const FIELD_MANAGER = 'sentiment-operator';

/** Thrown instead of writing once this instance is no longer the leader. */
export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError';
}

/**
 * Every write the controller makes goes through here: one place counts them
 * (sentiment_operator_api_writes_total, which the idempotence tests read) and one place refuses
 * them once the leadership term has ended, so a deposed leader cannot write after its successor
 * has started.
 */
export class KubeWriter {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig, private readonly metrics: OperatorMetrics, private readonly term: AbortSignal) {
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Server-side apply with force: we own the fields we send and take them back from anyone who changed them. */
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    this.count('apply', obj.kind ?? '');
    return this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /**
   * Server-side apply to the status subresource, so fields other writers own stay theirs: the
   * reconciler and the autoscaler each apply their part under their own field manager.
   */
  async applyStatus(model: SentimentModel, status: SentimentModelStatus, fieldManager = FIELD_MANAGER): Promise<void> {
    this.count('apply', `${model.kind}/status`);
    const { name, namespace } = model.metadata;
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, fieldManager, force: true,
        body: { apiVersion: model.apiVersion, kind: model.kind, metadata: { name, namespace }, status } },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  /** spec.replicas through the scale subresource, the same door an HPA or KEDA uses. */
  async scale(model: SentimentModel, replicas: number, fieldManager: string): Promise<void> {
    this.count('patch', `${model.kind}/scale`);
    const { name, namespace } = model.metadata;
    await this.custom.patchNamespacedCustomObjectScale(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, fieldManager, body: { spec: { replicas } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async createEvent(event: CoreV1Event): Promise<void> {
    this.count('create', 'Event');
    await this.core.createNamespacedEvent({ namespace: event.metadata.namespace ?? '', body: event });
  }

  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void> {
    this.count('patch', 'Event');
    await this.core.patchNamespacedEvent({ namespace, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  private count(verb: string, kind: string): void {
    if (this.term.aborted) throw new LeadershipLostError('not the leader any more; write refused');
    this.metrics.apiWrites.inc({ verb, kind });
  }
}
