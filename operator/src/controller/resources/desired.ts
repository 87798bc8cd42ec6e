import type { V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import type { SentimentModel } from '../../api/v1alpha1/index.js';
import { makeConfigMap, renderRuntimeConfig, runtimeConfig } from './configmap.js';
import { makeDeployment } from './deployment.js';
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

/** Everything a SentimentModel should own, from the spec and cluster facts alone; the reconciler only applies it. */
export function desiredObjects(model: SentimentModel, facts: ClusterFacts): DesiredObjects {
  const delivery = modelDelivery(model, facts);
  const configYaml = renderRuntimeConfig(runtimeConfig(model, delivery.path));
  return {
    configMap: makeConfigMap(model, configYaml),
    deployment: makeDeployment(model, facts, delivery, configYaml),
    service: makeService(model),
    pdb: makePDB(model),
  };
}
