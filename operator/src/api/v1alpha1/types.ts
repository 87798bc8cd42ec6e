import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { SentimentModelSpec } from './spec.js';
import type { SentimentModelStatus } from './status.js';

export const GROUP = 'serving.sentiment.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;
export const KIND = 'SentimentModel';
export const PLURAL = 'sentimentmodels';
export const SINGULAR = 'sentimentmodel';
export const SHORT_NAME = 'sentm';

/** Where the runtime listens in every pod the operator makes: its Service and the autoscaler's scrapes go there. */
export const RUNTIME_HTTP_PORT = 8080;
/** The runtime's probe listener (server.probePort): the kubelet's probes go there, answered off the serving event loop. */
export const RUNTIME_PROBE_PORT = 8081;

export const LABEL_MODEL = `${GROUP}/model`;
export const ANNOTATION_TEMPLATE_HASH = `${GROUP}/template-hash`;
/** On each child: hash of the object the operator last applied, so an unchanged child is not re-applied. */
export const ANNOTATION_APPLIED_HASH = `${GROUP}/applied-hash`;
/** On the pod template, so status can say which revision the ready pods serve (quantization is not in the pod spec). */
export const ANNOTATION_MODEL_SOURCE = `${GROUP}/model-source`;
export const ANNOTATION_RUNTIME_IMAGE = `${GROUP}/runtime-image`;
export const ANNOTATION_QUANTIZATION = `${GROUP}/quantization`;

/** A SentimentModel as read from the apiserver: defaulted, validated, and with identity set. */
export interface SentimentModel {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta & { name: string; namespace: string; uid: string };
  spec: SentimentModelSpec;
  status?: SentimentModelStatus;
}
