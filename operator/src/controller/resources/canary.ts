import type { V1ConfigMap, V1Deployment, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { CANARY_LABEL, canaryName } from '#contract/canary.js';
import { LABEL_MODEL, type CanaryStep, type SentimentModel } from '../../api/v1alpha1/index.js';
import { makeDeployment } from './deployment.js';
import type { DesiredDraft } from './desired.js';
import { APP_NAME, childMeta, childNames, labels } from './names.js';
import { HTTP_PORT_NAME } from './pod-defaults.js';

/**
 * The candidate's pods carry another app.kubernetes.io/name than the stable ones, so neither the
 * model's Service nor its Deployment (whose selector is immutable and cannot grow a "not canary"
 * term) selects them; LABEL_MODEL stays the model's, so the informers bring their changes to it.
 */
export const CANARY_APP_NAME = `${APP_NAME}-canary`;

export interface CanaryObjects {
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  service: V1Service;
}

export function canaryNames(model: SentimentModel) {
  const name = canaryName(model.metadata.name);
  return { deployment: name, service: name, configMap: `${name}-runtime-config` };
}

export function canarySelector(model: SentimentModel): Record<string, string> {
  return { 'app.kubernetes.io/name': CANARY_APP_NAME, [LABEL_MODEL]: model.metadata.name, [CANARY_LABEL]: 'true' };
}

const canaryLabels = (model: SentimentModel) => ({ ...labels(model), ...canarySelector(model) });

/** One pod for a shadow step (copies need only be answered), else the step's share of the model's replicas, at least one. */
export function candidateReplicas(model: SentimentModel, step: CanaryStep): number {
  if (step.weightPercent === undefined) return 1;
  return Math.max(1, Math.ceil((model.spec.replicas * step.weightPercent) / 100));
}

/**
 * The candidate revision: the spec's pod template with its own ConfigMap (the model's stays on
 * the stable revision's config, which a restarted stable pod reads) and labels, behind a Service
 * `<model>-canary` whose EndpointSlices the router reads. The runtime keeps the model's name, so
 * V2 paths are the same on both sides.
 */
export function makeCanaryObjects(model: SentimentModel, draft: DesiredDraft, replicas: number): CanaryObjects {
  const names = canaryNames(model);
  const withLabels = (meta: ReturnType<typeof childMeta>) => ({ ...meta, labels: canaryLabels(model) });
  const configMap: V1ConfigMap = { ...draft.configMap, metadata: withLabels(childMeta(model, names.configMap)) };
  const spec = draft.podTemplate.spec;
  const template: V1PodTemplateSpec = {
    metadata: { ...draft.podTemplate.metadata, labels: canaryLabels(model) },
    spec: spec && {
      ...spec,
      volumes: spec.volumes?.map((v) => (v.configMap?.name === childNames(model).configMap ? { ...v, configMap: { ...v.configMap, name: names.configMap } } : v)),
    },
  };
  const stableShaped = makeDeployment(model, template, 'Surge');
  const deployment: V1Deployment = {
    ...stableShaped,
    metadata: withLabels(childMeta(model, names.deployment)),
    spec: { ...stableShaped.spec, replicas, selector: { matchLabels: canarySelector(model) }, template } as V1Deployment['spec'],
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: withLabels(childMeta(model, names.service)),
    spec: {
      type: 'ClusterIP',
      selector: canarySelector(model),
      ports: [{ name: HTTP_PORT_NAME, port: 80, targetPort: HTTP_PORT_NAME, protocol: 'TCP', appProtocol: 'http' }],
    },
  };
  return { configMap, deployment, service };
}

/** A pod of a candidate, which the model's own status, rollout and autoscaler leave out. */
export const isCanaryPod = (labels: Record<string, string> | undefined): boolean => labels?.[CANARY_LABEL] === 'true';
