import Type, { type Static } from 'typebox';
import { StringEnum } from './kube-schema.js';

export const ConditionType = { Ready: 'Ready', Progressing: 'Progressing', Degraded: 'Degraded' } as const;

/** metav1.Condition, with the apimachinery bounds, so `kubectl wait --for=condition=Ready` works. */
export const Condition = Type.Object({
  type: Type.String({
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
  }),
  status: StringEnum(['True', 'False', 'Unknown']),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64' })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 32_768 }),
});

const count = () => Type.Optional(Type.Integer({ minimum: 0, format: 'int32' }));

export const SentimentModelStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64' })),
  replicas: count(),
  readyReplicas: count(),
  updatedReplicas: count(),
  desiredReplicas: Type.Optional(Type.Integer({ minimum: 0, format: 'int32', description: 'What the autoscaler last asked for.' })),
  selector: Type.Optional(Type.String({ description: 'Pod label selector, for the scale subresource (HPA, KEDA).' })),
  endpoint: Type.Optional(Type.String({ description: 'In-cluster URL of the inference service.' })),
  model: Type.Optional(Type.String({ description: 'The model source in use, for display.' })),
  images: Type.Optional(Type.Object({ runtime: Type.String(), model: Type.Optional(Type.String()) })),
  autoscaling: Type.Optional(
    Type.Object({
      metricValue: Type.Optional(Type.Number({ description: 'Observed metric averaged over the stable window.' })),
      panic: Type.Optional(Type.Boolean()),
      lastScaleTime: Type.Optional(Type.String({ format: 'date-time' })),
    }),
  ),
  conditions: Type.Optional(
    Type.Array(Condition, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  ),
});

export type Condition = Static<typeof Condition>;
export type SentimentModelStatus = Static<typeof SentimentModelStatus>;
