import { stringify } from 'yaml';
import type { TSchema } from 'typebox';
import type { V1CustomResourceDefinition, V1JSONSchemaProps } from '@kubernetes/client-node';
import { SentimentModelSpec } from './spec.js';
import { ConditionType, SentimentModelStatus } from './status.js';
import { GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION } from './types.js';

export const CRD_FILE = `${GROUP}_${PLURAL}.yaml`;

type Node = Record<string, unknown> & { properties?: Record<string, Node>; items?: Node; required?: string[] };

/**
 * Turns a TypeBox schema into a CRD structural schema. The JSON round trip drops TypeBox's
 * non-enumerable markers; `additionalProperties: false` goes because CRDs forbid it beside
 * `properties` (pruning closes objects anyway); defaulted fields leave `required` because the
 * apiserver validates `required` against what the user sent.
 */
export function toStructural(schema: TSchema): V1JSONSchemaProps {
  return normalize(JSON.parse(JSON.stringify(schema)) as Node) as V1JSONSchemaProps;
}

function normalize(node: Node): Node {
  if (node.additionalProperties === false) delete node.additionalProperties;
  if (node.properties) {
    for (const child of Object.values(node.properties)) normalize(child);
    const required = (node.required ?? []).filter((key) => node.properties?.[key]?.default === undefined);
    if (required.length > 0) node.required = required;
    else delete node.required;
    if (isObject(node.default)) node.default = expandDefault(node.default, node.properties);
  }
  if (node.items) normalize(node.items);
  return node;
}

/**
 * Spells out an object default (`{}`) with its fields' defaults. The apiserver checks a default
 * against the node's CEL rules when the CRD is created, before any nested defaulting, so a bare
 * `{}` would fail rules such as `self.minReplicas <= self.maxReplicas`. Children are already
 * expanded, since normalize works bottom-up.
 */
function expandDefault(value: Record<string, unknown>, properties: Record<string, Node>): Record<string, unknown> {
  const filled = { ...value };
  for (const [key, child] of Object.entries(properties)) {
    if (filled[key] === undefined && child.default !== undefined) filled[key] = child.default;
  }
  return filled;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const DNS1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

export function sentimentModelSchema(): V1JSONSchemaProps {
  return {
    type: 'object',
    description: 'A sentiment-analysis model served by a batched ONNX runtime.',
    properties: {
      // As every built-in kind describes them. metadata may carry nothing (the apiserver refuses
      // it); `kubectl explain` shows ObjectMeta's own description there.
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object: serving.sentiment.dev/v1alpha1.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents: SentimentModel.' },
      metadata: { type: 'object' },
      spec: toStructural(SentimentModelSpec),
      status: toStructural(SentimentModelStatus),
    },
    required: ['spec'],
    'x-kubernetes-validations': [
      {
        // The name becomes the Service name, which must be a DNS-1035 label.
        rule: `self.metadata.name.size() <= 63 && self.metadata.name.matches('${DNS1035_LABEL}')`,
        message: "metadata.name must be a DNS-1035 label (at most 63 lowercase letters, digits or '-', starting with a letter) because it names the Service",
      },
    ],
  } as V1JSONSchemaProps;
}

export function sentimentModelCRD(): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME], categories: ['sentiment'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: sentimentModelSchema() },
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
          },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: `.status.conditions[?(@.type=="${ConditionType.Ready}")].status` },
            { name: 'Replicas', type: 'integer', jsonPath: '.status.replicas' },
            // What serves, not what the spec asks for: during a rollout the old revision still
            // answers every request, and Rolling-To names the one on its way.
            { name: 'Model', type: 'string', jsonPath: '.status.revisions.serving.model', description: 'The model the ready pods serve.' },
            { name: 'Rolling-To', type: 'string', jsonPath: '.status.revisions.rollingOutTo.model', description: 'The model a rollout in progress is moving to.' },
            { name: 'Quant', type: 'string', jsonPath: '.status.revisions.serving.quantization', description: 'The quantization the ready pods serve.' },
            { name: 'Canary', type: 'string', jsonPath: '.status.canary.phase', description: 'The canary of the spec\'s revision: Analyzing, Promoting, Promoted or RolledBack.' },
            { name: 'Step', type: 'integer', jsonPath: '.status.canary.step', priority: 1, description: 'The canary step under way (index in spec.rollout.canary.steps).' },
            { name: 'GPU', type: 'integer', jsonPath: '.spec.resources.gpu.count' },
            { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

/** The file `npm run generate` writes, to crds/ and to the chart's crds/ alike. */
export function sentimentModelCRDYaml(): string {
  const header = '# Code generated by `npm run generate` from operator/src/api/v1alpha1. DO NOT EDIT.\n';
  // kubectl and the apiserver read YAML 1.1, where a bare n or y is a boolean: version 1.1 quotes them.
  return header + stringify(sentimentModelCRD(), { lineWidth: 0, version: '1.1' });
}
