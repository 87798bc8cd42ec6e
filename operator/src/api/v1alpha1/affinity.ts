import Type, { type Static } from 'typebox';
import { StringEnum } from '#contract/string-enum.js';
import { LabelMap, LabelValue, QualifiedName, validations } from './kube-schema.js';

/**
 * The core/v1 Affinity, as a structural schema with the apiserver's own pod-spec rules in CEL, so
 * a wrong type or a rule the Deployment would break is refused on the SentimentModel (where the
 * user sees it) and an unknown field is dropped or refused rather than copied to the pods. The
 * bounds (terms, expressions, values) are far above real use and keep CEL's cost estimate low.
 */

const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const hasValues = 'has(self.values) && self.values.size() > 0';
const noValues = '!has(self.values) || self.values.size() == 0';

const NodeSelectorRequirement = Type.Object(
  {
    key: QualifiedName('a node selector requirement key', { description: 'Node label key.' }),
    operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'], { description: "How the node's label value relates to values." }),
    values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64, description: 'Label values: one or more for In and NotIn, none for Exists and DoesNotExist, one integer for Gt and Lt.' })),
  },
  {
    description: "A requirement on a node's label.",
    ...validations(
      { rule: `!(self.operator in ['In', 'NotIn']) || (${hasValues})`, message: 'operator In and NotIn need at least one value', fieldPath: '.values' },
      { rule: `!(self.operator in ['Exists', 'DoesNotExist']) || (${noValues})`, message: 'operator Exists and DoesNotExist take no values', fieldPath: '.values' },
      {
        rule: "!(self.operator in ['Gt', 'Lt']) || (has(self.values) && self.values.size() == 1 && self.values[0].matches('^-?[0-9]{1,18}$'))",
        message: 'operator Gt and Lt take exactly one integer value',
        fieldPath: '.values',
      },
    ),
  },
);

/** matchFields can select by metadata.name only, and by one name per requirement. */
const NodeFieldSelectorRequirement = Type.Object(
  {
    key: StringEnum(['metadata.name'], { description: 'The node field: metadata.name only.' }),
    operator: StringEnum(['In', 'NotIn'], { description: 'Whether the node name is or is not the value.' }),
    values: Type.Array(Type.String({ maxLength: 253 }), { minItems: 1, maxItems: 1, description: 'One node name.' }),
  },
);

const NodeSelectorTerm = Type.Object(
  {
    matchExpressions: Type.Optional(Type.Array(NodeSelectorRequirement, { maxItems: 32, description: "Requirements on the node's labels, all of which must hold." })),
    matchFields: Type.Optional(Type.Array(NodeFieldSelectorRequirement, { maxItems: 32, description: "Requirements on the node's fields, all of which must hold." })),
  },
  { description: 'Nodes that match every requirement listed.' },
);

const Weight = Type.Integer({ minimum: 1, maximum: 100, format: 'int32', description: 'Added to a node\'s score when the term matches, 1 to 100.' });

const NodeAffinity = Type.Object(
  {
    requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(
      Type.Object(
        { nodeSelectorTerms: Type.Array(NodeSelectorTerm, { minItems: 1, maxItems: 32, description: 'A node that matches any one term qualifies.' }) },
        { description: 'Nodes the pods may only be scheduled to.' },
      ),
    ),
    preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
      Type.Array(Type.Object({ weight: Weight, preference: NodeSelectorTerm }, { description: 'A weighted node preference.' }), {
        maxItems: 32,
        description: 'Nodes the scheduler prefers, by the summed weight of the terms they match.',
      }),
    ),
  },
  { description: 'Node affinity: which nodes the pods run on, by node labels.' },
);

const LabelSelectorRequirement = Type.Object(
  {
    key: QualifiedName('a label selector requirement key', { description: 'Label key.' }),
    operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'], { description: "How the label's value relates to values." }),
    values: Type.Optional(Type.Array(LabelValue(), { maxItems: 64, description: 'Label values: one or more for In and NotIn, none for Exists and DoesNotExist.' })),
  },
  {
    description: 'A requirement on a label.',
    ...validations(
      { rule: `!(self.operator in ['In', 'NotIn']) || (${hasValues})`, message: 'operator In and NotIn need at least one value', fieldPath: '.values' },
      { rule: `!(self.operator in ['Exists', 'DoesNotExist']) || (${noValues})`, message: 'operator Exists and DoesNotExist take no values', fieldPath: '.values' },
    ),
  },
);

const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(LabelMap('matchLabels', { maxProperties: 32, description: 'Labels that must all be present with these values.' })),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 32, description: 'Requirements on labels, all of which must hold.' })),
  },
  { description: 'A label selector; an empty one selects everything.' },
);

const LabelKeys = (description: string) => Type.Array(QualifiedName('a label key'), { maxItems: 32, description });

const PodAffinityTerm = Type.Object(
  {
    labelSelector: Type.Optional(LabelSelector),
    namespaceSelector: Type.Optional(LabelSelector),
    namespaces: Type.Optional(Type.Array(Type.String({ maxLength: 63, pattern: DNS1123_LABEL }), { maxItems: 64, description: "Namespaces of the pods to match; empty means the model's own." })),
    topologyKey: QualifiedName('topologyKey', { description: 'Node label whose value defines the domain (node, zone) the term is about.' }),
    matchLabelKeys: Type.Optional(LabelKeys("Label keys whose values are taken from the incoming pod and must match, e.g. pod-template-hash.")),
    mismatchLabelKeys: Type.Optional(LabelKeys("Label keys whose values are taken from the incoming pod and must not match.")),
  },
  {
    description: 'Pods (by labels and namespaces) the incoming pod is placed with, or away from, within a topology domain.',
    ...validations(
      {
        rule: '(!has(self.matchLabelKeys) && !has(self.mismatchLabelKeys)) || has(self.labelSelector)',
        message: 'matchLabelKeys and mismatchLabelKeys need a labelSelector',
      },
      {
        rule: '!has(self.matchLabelKeys) || !has(self.mismatchLabelKeys) || !self.matchLabelKeys.exists(k, k in self.mismatchLabelKeys)',
        message: 'a key must not be in both matchLabelKeys and mismatchLabelKeys',
      },
    ),
  },
);

const PodAffinity = (description: string) =>
  Type.Object(
    {
      requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(Type.Array(PodAffinityTerm, { maxItems: 32, description: 'Terms every pod must satisfy to be scheduled.' })),
      preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
        Type.Array(Type.Object({ weight: Weight, podAffinityTerm: PodAffinityTerm }, { description: 'A weighted pod affinity term.' }), {
          maxItems: 32,
          description: 'Terms the scheduler prefers, by the summed weight of those a node satisfies.',
        }),
      ),
    },
    { description },
  );

export const Affinity = Type.Object(
  {
    nodeAffinity: Type.Optional(NodeAffinity),
    podAffinity: Type.Optional(PodAffinity('Pod affinity: run the pods in the same domain as the pods the terms select.')),
    podAntiAffinity: Type.Optional(PodAffinity('Pod anti-affinity: keep the pods out of domains that run the pods the terms select, e.g. one replica per zone.')),
  },
  { description: 'A core/v1 Affinity, copied to the pods.' },
);

export type Affinity = Static<typeof Affinity>;
