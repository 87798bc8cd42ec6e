import type { V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { RolloutChoice, SentimentModel } from '../../api/v1alpha1/index.js';
import { makeConfigMap, renderRuntimeConfig, runtimeConfig } from './configmap.js';
import { makeDeployment, makePodTemplate } from './deployment.js';
import type { ClusterFacts } from './facts.js';
import { modelDelivery } from './model-delivery.js';
import { makePDB } from './pdb.js';
import { makeService } from './service.js';

export interface DesiredObjects {
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  service: V1Service;
  pdb: V1PodDisruptionBudget;
}

/**
 * Everything a SentimentModel should own, from the spec and cluster facts alone, short of the
 * Deployment: its rollout strategy is a decision made from the pod template (strategy.ts), so the
 * template comes first and withStrategy() finishes the set.
 */
export interface DesiredDraft extends Omit<DesiredObjects, 'deployment'> {
  podTemplate: V1PodTemplateSpec;
}

export function desiredDraft(model: SentimentModel, facts: ClusterFacts): DesiredDraft {
  const delivery = modelDelivery(model, facts);
  const configYaml = renderRuntimeConfig(runtimeConfig(model, delivery.path));
  return {
    configMap: makeConfigMap(model, configYaml),
    podTemplate: makePodTemplate(model, delivery, configYaml),
    service: makeService(model),
    pdb: makePDB(model),
  };
}

export function withStrategy(model: SentimentModel, draft: DesiredDraft, strategy: RolloutChoice['strategy']): DesiredObjects {
  const { configMap, podTemplate, service, pdb } = draft;
  return { configMap, deployment: makeDeployment(model, podTemplate, strategy), service, pdb };
}
