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
    key: QualifiedName('a node selector requirement key'),
    operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
    values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64 })),
  },
  validations(
    { rule: `!(self.operator in ['In', 'NotIn']) || (${hasValues})`, message: 'operator In and NotIn need at least one value', fieldPath: '.values' },
    { rule: `!(self.operator in ['Exists', 'DoesNotExist']) || (${noValues})`, message: 'operator Exists and DoesNotExist take no values', fieldPath: '.values' },
    {
      rule: "!(self.operator in ['Gt', 'Lt']) || (has(self.values) && self.values.size() == 1 && self.values[0].matches('^-?[0-9]{1,18}$'))",
      message: 'operator Gt and Lt take exactly one integer value',
      fieldPath: '.values',
    },
  ),
);

/** matchFields can select by metadata.name only, and by one name per requirement. */
const NodeFieldSelectorRequirement = Type.Object(
  {
    key: StringEnum(['metadata.name']),
    operator: StringEnum(['In', 'NotIn']),
    values: Type.Array(Type.String({ maxLength: 253 }), { minItems: 1, maxItems: 1 }),
  },
);

const NodeSelectorTerm = Type.Object({
  matchExpressions: Type.Optional(Type.Array(NodeSelectorRequirement, { maxItems: 32 })),
  matchFields: Type.Optional(Type.Array(NodeFieldSelectorRequirement, { maxItems: 32 })),
});

const Weight = Type.Integer({ minimum: 1, maximum: 100, format: 'int32' });

const NodeAffinity = Type.Object({
  requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(
    Type.Object({ nodeSelectorTerms: Type.Array(NodeSelectorTerm, { minItems: 1, maxItems: 32 }) }),
  ),
  preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
    Type.Array(Type.Object({ weight: Weight, preference: NodeSelectorTerm }), { maxItems: 32 }),
  ),
});

const LabelSelectorRequirement = Type.Object(
  {
    key: QualifiedName('a label selector requirement key'),
    operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: Type.Optional(Type.Array(LabelValue(), { maxItems: 64 })),
  },
  validations(
    { rule: `!(self.operator in ['In', 'NotIn']) || (${hasValues})`, message: 'operator In and NotIn need at least one value', fieldPath: '.values' },
    { rule: `!(self.operator in ['Exists', 'DoesNotExist']) || (${noValues})`, message: 'operator Exists and DoesNotExist take no values', fieldPath: '.values' },
  ),
);

const LabelSelector = Type.Object({
  matchLabels: Type.Optional(LabelMap('matchLabels', { maxProperties: 32 })),
  matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 32 })),
});

const LabelKeys = Type.Array(QualifiedName('a label key'), { maxItems: 32 });

const PodAffinityTerm = Type.Object(
  {
    labelSelector: Type.Optional(LabelSelector),
    namespaceSelector: Type.Optional(LabelSelector),
    namespaces: Type.Optional(Type.Array(Type.String({ maxLength: 63, pattern: DNS1123_LABEL }), { maxItems: 64 })),
    topologyKey: QualifiedName('topologyKey'),
    matchLabelKeys: Type.Optional(LabelKeys),
    mismatchLabelKeys: Type.Optional(LabelKeys),
  },
  validations(
    {
      rule: '(!has(self.matchLabelKeys) && !has(self.mismatchLabelKeys)) || has(self.labelSelector)',
      message: 'matchLabelKeys and mismatchLabelKeys need a labelSelector',
    },
    {
      rule: '!has(self.matchLabelKeys) || !has(self.mismatchLabelKeys) || !self.matchLabelKeys.exists(k, k in self.mismatchLabelKeys)',
      message: 'a key must not be in both matchLabelKeys and mismatchLabelKeys',
    },
  ),
);

const PodAffinity = Type.Object({
  requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(Type.Array(PodAffinityTerm, { maxItems: 32 })),
  preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
    Type.Array(Type.Object({ weight: Weight, podAffinityTerm: PodAffinityTerm }), { maxItems: 32 }),
  ),
});

export const Affinity = Type.Object(
  { nodeAffinity: Type.Optional(NodeAffinity), podAffinity: Type.Optional(PodAffinity), podAntiAffinity: Type.Optional(PodAffinity) },
  { description: 'A core/v1 Affinity, copied to the pods.' },
);

export type Affinity = Static<typeof Affinity>;
