import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, LABEL_MODEL, type ModelSource, type SentimentModel } from '../../api/v1alpha1/index.js';

export const APP_NAME = 'sentiment-runtime';
export const MANAGED_BY = 'sentiment-operator';

/**
 * Child names. The Deployment, Service and PDB share the model's name (a DNS-1035 label by CRD
 * rule), so `kubectl get deploy,svc,pdb <name>` finds them; the ConfigMap says what it holds.
 */
export function childNames(model: SentimentModel) {
  const name = model.metadata.name;
  return { deployment: name, service: name, pdb: name, configMap: `${name}-runtime-config` };
}

/** The stable subset used as selectors; Deployment selectors are immutable, so never add to it. */
export function selectorLabels(model: SentimentModel): Record<string, string> {
  return { 'app.kubernetes.io/name': APP_NAME, [LABEL_MODEL]: model.metadata.name };
}

/** status.selector for the scale subresource, which HPA and KEDA read as a label-selector string. */
export function selectorString(model: SentimentModel): string {
  return Object.entries(selectorLabels(model))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function labels(model: SentimentModel): Record<string, string> {
  return {
    'app.kubernetes.io/name': APP_NAME,
    'app.kubernetes.io/instance': model.metadata.name,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [LABEL_MODEL]: model.metadata.name,
  };
}

export function ownerReference(model: SentimentModel): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: model.metadata.name, uid: model.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function childMeta(model: SentimentModel, name: string): V1ObjectMeta {
  return { name, namespace: model.metadata.namespace, labels: labels(model), ownerReferences: [ownerReference(model)] };
}

export function endpoint(model: SentimentModel, clusterDomain: string): string {
  return `http://${childNames(model).service}.${model.metadata.namespace}.svc.${clusterDomain}`;
}

/**
 * status.model and the revision annotation the MODEL column shows. Anyone who may list the
 * model reads it, so a URL shows neither credentials nor its query, where a presigned URL
 * carries its signature.
 */
export function modelSummary(source: ModelSource): string {
  if (source.image) return source.image.reference;
  if (source.pvc) return `pvc:${source.pvc.claimName}${source.pvc.path}`;
  return source.url ? displayUrl(source.url.url) : '';
}

function displayUrl(raw: string): string {
  if (!URL.canParse(raw)) return '<invalid URL>';
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?<redacted>' : ''}`;
}
