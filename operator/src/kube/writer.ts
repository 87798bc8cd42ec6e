import type { CoreV1Event, KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, PLURAL, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import { resourcePath, type KubeClient } from './client.js';
import { classify, Failure, LeadershipLostError } from './errors.js';
import type { OperatorMetrics } from '../metrics.js';

export const FIELD_MANAGER = 'sentiment-operator';

/** JSON is YAML, so server-side apply takes the object as JSON under this type. */
const APPLY_PATCH = 'application/apply-patch+yaml';
const MERGE_PATCH = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

/** The plurals of the kinds the controller applies: all it needs of API discovery. */
const PLURALS: Record<string, string> = {
  ConfigMap: 'configmaps', Deployment: 'deployments', Service: 'services', PodDisruptionBudget: 'poddisruptionbudgets',
};

/**
 * Every write the controller makes goes through here: one place counts them
 * (sentiment_operator_api_writes_total, which the idempotence tests read) and one place refuses
 * them once the leadership term has ended, so a deposed leader cannot write after its successor
 * has started.
 */
export class KubeWriter {
  constructor(private readonly client: KubeClient, private readonly metrics: OperatorMetrics, private readonly term: AbortSignal) {}

  /**
   * Server-side apply with force: we own the fields we send and take them back from anyone who
   * changed them. Returns the resourceVersion the object has after it.
   */
  async apply(obj: KubernetesObject): Promise<string> {
    this.count('apply', obj.kind ?? '');
    const applied = await this.client.request<KubernetesObject>('PATCH', this.pathOf(obj), {
      query: { fieldManager: FIELD_MANAGER, force: true }, body: obj, contentType: APPLY_PATCH,
    });
    return applied?.metadata?.resourceVersion ?? '';
  }

  /** A JSON patch (RFC 6902) under our field manager, for what apply cannot do: removing fields others own. */
  async patch(obj: KubernetesObject, ops: object[]): Promise<string> {
    this.count('patch', obj.kind ?? '');
    const patched = await this.client.request<KubernetesObject>('PATCH', this.pathOf(obj), {
      query: { fieldManager: FIELD_MANAGER }, body: ops, contentType: JSON_PATCH,
    });
    return patched?.metadata?.resourceVersion ?? '';
  }

  /**
   * Server-side apply to the status subresource, so fields other writers own stay theirs: the
   * reconciler and the autoscaler each apply their part under their own field manager.
   */
  async applyStatus(model: SentimentModel, status: SentimentModelStatus, fieldManager = FIELD_MANAGER): Promise<void> {
    this.count('apply', `${model.kind}/status`);
    const { name, namespace } = model.metadata;
    await this.client.send('PATCH', resourcePath(API_VERSION, PLURAL, namespace, name, 'status'), {
      query: { fieldManager, force: true }, contentType: APPLY_PATCH,
      body: { apiVersion: model.apiVersion, kind: model.kind, metadata: { name, namespace }, status },
    });
  }

  /** spec.replicas through the scale subresource, the same door an HPA or KEDA uses. */
  async scale(model: SentimentModel, replicas: number, fieldManager: string): Promise<void> {
    this.count('patch', `${model.kind}/scale`);
    const { name, namespace } = model.metadata;
    await this.client.send('PATCH', resourcePath(API_VERSION, PLURAL, namespace, name, 'scale'), {
      query: { fieldManager }, contentType: MERGE_PATCH, body: { spec: { replicas } },
    });
  }

  /** Deletes a child; one already gone counts as deleted. */
  async delete(obj: KubernetesObject): Promise<void> {
    this.count('delete', obj.kind ?? '');
    try {
      await this.client.send('DELETE', this.pathOf(obj), { query: { propagationPolicy: 'Background' } });
    } catch (err) {
      if (classify(err) !== Failure.NotFound) throw err;
    }
  }

  async createEvent(event: CoreV1Event): Promise<void> {
    this.count('create', 'Event');
    await this.client.send('POST', resourcePath('v1', 'events', event.metadata.namespace), { body: event });
  }

  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void> {
    this.count('patch', 'Event');
    await this.client.send('PATCH', resourcePath('v1', 'events', namespace, name), { contentType: MERGE_PATCH, body: patch });
  }

  private pathOf({ apiVersion = '', kind = '', metadata }: KubernetesObject): string {
    const plural = PLURALS[kind];
    if (!plural) throw new Error(`no resource known for kind ${kind}`);
    return resourcePath(apiVersion, plural, metadata?.namespace, metadata?.name);
  }

  private count(verb: string, kind: string): void {
    if (this.term.aborted) throw new LeadershipLostError('not the leader any more; write refused');
    this.metrics.apiWrites.inc({ verb, kind });
  }
}
