import Type, { type Static } from 'typebox';
import { StringEnum } from '#contract/string-enum.js';

export const ConditionType = { Ready: 'Ready', Progressing: 'Progressing', Degraded: 'Degraded' } as const;

/** metav1.Condition, with the apimachinery bounds, so `kubectl wait --for=condition=Ready` works. */
export const Condition = Type.Object({
  type: Type.String({
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    description: 'Ready, Progressing or Degraded.',
  }),
  status: StringEnum(['True', 'False', 'Unknown'], { description: 'True, False or Unknown.' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'The metadata.generation the condition was computed from.' })),
  lastTransitionTime: Type.String({ format: 'date-time', description: 'When status last changed.' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', description: 'Why, in one CamelCase word (e.g. RolloutInProgress, ModelLoadFailed).' }),
  message: Type.String({ maxLength: 32_768, description: 'Why, for people.' }),
});

// The builtin autoscaler's state (autoscaler/decide.ts, window.ts) as plain data, persisted in
// status so a restarted or newly elected operator resumes its decisions. Objects rather than
// tuples, which a CRD structural schema cannot describe; times are epoch milliseconds.

/** One second of observations: their sum and count, so several ticks in the same second average. */
const Bucket = Type.Object({
  at: Type.Number({ description: 'The second, in epoch milliseconds.' }),
  sum: Type.Number({ description: 'Sum of the observations in that second.' }),
  n: Type.Integer({ minimum: 1, description: 'Number of observations in that second.' }),
});
export const MetricWindow = Type.Array(Bucket, { description: 'Per-second totals of the metric across pods, over the stable window.' });
/** Values with the time they were recorded, kept only while they can still be the maximum of the window. */
export const MaxWindow = Type.Array(
  Type.Object({ at: Type.Number({ description: 'When, in epoch milliseconds.' }), value: Type.Number({ description: 'The recommended replicas.' }) }),
  { description: 'Recommendations that can still be the maximum within the scale-down delay.' },
);

export const AutoscalerState = Type.Object({
  /** Per-second totals of the metric across pods, over the stable window. */
  metric: MetricWindow,
  /** Recommendations that can still be the maximum within the scale-down delay. */
  recommendations: MaxWindow,
  /** Last time the panic window demand was over the threshold; present only while panicking. */
  overThresholdAt: Type.Optional(Type.Number({ description: 'Last time (epoch milliseconds) the panic-window demand was over the threshold; only while panicking.' })),
  /** The last decision, so a restart neither forgets a scale-up nor reports it again. */
  desired: Type.Optional(Type.Integer({ minimum: 0, description: 'The last decision, so a restart neither forgets a scale-up nor reports it again.' })),
  /** Records per second per consuming replica, recorded while a backlog kept the replicas busy. */
  lagRate: Type.Optional(Type.Array(Bucket, { description: 'Per-second records/s per consuming replica, recorded while the input topic had a backlog (metric kafkaLag).' })),
  /** The consumer group's lag over the last seconds, for whether it grows or shrinks. */
  lag: Type.Optional(Type.Array(Bucket, { description: 'Per-second lag of the consumer group over the last seconds, for its trend (metric kafkaLag).' })),
  /** Records/s the replicas produced over the same seconds. */
  lagProduced: Type.Optional(Type.Array(Bucket, { description: 'Per-second records/s the replicas produced over the same seconds as lag (metric kafkaLag).' })),
});

const count = (description: string) => Type.Optional(Type.Integer({ minimum: 0, format: 'int32', description }));

/** One pod template of the model: what it serves, recorded on the template's annotations. */
export const Revision = Type.Object({
  templateHash: Type.String({ maxLength: 64, description: 'Hash of the pod template, as on the pods\' serving.sentiment.dev/template-hash annotation.' }),
  model: Type.Optional(Type.String({ description: 'The model source, as in status.model.' })),
  runtimeImage: Type.Optional(Type.String({ description: 'The runtime image.' })),
  quantization: Type.Optional(Type.String({ description: 'The quantization.' })),
}, { description: 'A pod template of the model and what it serves.' });

const share = (description: string) => Type.Optional(Type.Integer({ minimum: 0, maximum: 100, format: 'int32', description }));

/** A revision that takes traffic: the stable one or a canary candidate. */
export const ServingRevision = Type.Object({
  ...Revision.properties,
  trafficPercent: share('Share of the model\'s requests this revision answers.'),
  shadowPercent: share('Share of the requests copied to it (its answers are compared, not returned).'),
}, { description: 'A revision and the traffic it takes.' });

const figure = (description: string) => Type.Optional(Type.Number({ description }));

export const CanaryStatus = Type.Object({
  revision: Type.String({ maxLength: 64, description: 'Pod template hash of the candidate.' }),
  model: Type.Optional(Type.String({ description: 'The candidate\'s model source, as in status.model.' })),
  phase: StringEnum(['Analyzing', 'Promoting', 'Promoted', 'RolledBack'], { description: 'Analyzing: steps under way; Promoting: the stable Deployment rolls to the candidate; Promoted; RolledBack (the revision is not tried again until the spec changes).' }),
  step: Type.Integer({ minimum: 0, maximum: 9, format: 'int32', description: 'Index of the step in spec.rollout.canary.steps.' }),
  stepStartedAt: Type.String({ format: 'date-time', description: 'When the step began.' }),
  reason: Type.String({ maxLength: 64, description: 'Why the phase is what it is, in one CamelCase word (e.g. LabelAgreementTooLow).' }),
  message: Type.String({ maxLength: 1024, description: 'Why, for people: the failed check with measured value and threshold.' }),
  analysis: Type.Optional(Type.Object({
    comparedTexts: Type.Integer({ minimum: 0, description: 'Texts answered by both revisions in this step.' }),
    labelAgreement: figure('Share of compared texts with the same label.'),
    negativeShareChange: figure('Negative share of the candidate minus that of the stable revision.'),
    scoreDrift: figure('Largest change of a class\'s mean score.'),
    errorRate: figure('Share of the candidate\'s requests that failed.'),
    p99LatencySeconds: figure('p99 of the candidate\'s answer time (the histogram bucket bound).'),
  }, { description: 'The step\'s figures, summed over the router pods.' })),
}, { description: 'The canary of the spec\'s revision: its phase, step and figures.' });

export const RolloutChoice = Type.Object({
  strategy: StringEnum(['Surge', 'Replace'], { description: 'Surge: maxSurge spec.rollout.maxSurge, maxUnavailable 0. Replace: maxSurge 0, maxUnavailable spec.rollout.maxUnavailable.' }),
  reason: Type.String({ maxLength: 64, description: 'UserSpecified, NoGPU, SpareGPU, NoSpareGPU, LastReplica or KeptFromDeployment.' }),
  message: Type.String({ maxLength: 1024, description: 'The choice explained.' }),
  templateHash: Type.String({ maxLength: 64, description: 'The pod template the choice was made for; it holds until the template changes.' }),
}, { description: 'The rolling-update strategy of the current pod template, and why.' });

export const SentimentModelStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'The metadata.generation this status describes.' })),
  replicas: count('Runtime pods, of any revision.'),
  readyReplicas: count('Runtime pods ready to serve.'),
  updatedReplicas: count('Runtime pods of the current pod template.'),
  desiredReplicas: Type.Optional(Type.Integer({ minimum: 0, format: 'int32', description: 'What the autoscaler last asked for.' })),
  selector: Type.Optional(Type.String({ description: 'Pod label selector, for the scale subresource (HPA, KEDA).' })),
  endpoint: Type.Optional(Type.String({ description: 'In-cluster URL of the inference service.' })),
  model: Type.Optional(Type.String({ description: 'The model source the spec asks for (a URL without credentials or query); revisions.serving.model is the one that serves.' })),
  images: Type.Optional(
    Type.Object(
      { runtime: Type.String({ description: 'The runtime image.' }), model: Type.Optional(Type.String({ description: 'The model image, for image models.' })) },
      { description: 'The images the spec asks for.' },
    ),
  ),
  revisions: Type.Optional(
    Type.Object(
      { serving: Type.Optional(ServingRevision), rollingOutTo: Type.Optional(Revision), candidate: Type.Optional(ServingRevision) },
      { description: 'serving: what the ready pods run, an older revision for as long as any of its pods is ready; rollingOutTo: the spec\'s revision until it serves; candidate: a canary under analysis.' },
    ),
  ),
  rollout: Type.Optional(RolloutChoice),
  canary: Type.Optional(CanaryStatus),
  autoscaling: Type.Optional(
    Type.Object({
      metricValue: Type.Optional(Type.Number({ description: 'Observed metric summed over the ready pods, averaged over the stable window.' })),
      panic: Type.Optional(Type.Boolean({ description: 'A burst in the panic window has the autoscaler only scaling up.' })),
      reason: Type.Optional(Type.String({ maxLength: 64, description: 'Why desiredReplicas is what it is: ScaleUp, ScaleDown, Stable, Panic, HoldScaleDownDelay, AtMin, AtMax, MetricsUnavailable, KafkaLagUnavailable (the brokers did not answer; the last size holds) or Idle (minReplicas 0: at or going to zero).' })),
      lastScaleTime: Type.Optional(Type.String({ format: 'date-time', description: 'When the autoscaler last changed spec.replicas.' })),
      drivenBy: Type.Optional(StringEnum(['backlog', 'inflow', 'idle'], {
        description: 'Metric kafkaLag: what set the size, the backlog to drain within kafkaLag.drainSeconds, the records arriving while there is none, or neither (no lag, no flow).',
      })),
      kafkaLag: Type.Optional(Type.Object({
        lag: Type.Number({ description: 'Records of the input topic the consumer group has not committed, summed over its partitions, as last read from the brokers.' }),
        partitions: Type.Integer({ minimum: 0, format: 'int32', description: 'Partitions of the input topic: more consumers than this would idle.' }),
        recordsPerSecondPerReplica: Type.Optional(Type.Number({ description: 'What one consuming replica was measured to produce while it had a backlog; absent until measured.' })),
        desiredReplicas: Type.Integer({ minimum: 0, format: 'int32', description: 'Replicas the lag asks for, before the bounds and the scale-down delay.' }),
      }, { description: 'Metric kafkaLag: the last lag read from the brokers and what it asks for.' })),
      state: Type.Optional(Type.Object(AutoscalerState.properties, { description: 'The builtin autoscaler\'s windows, so a restarted or newly elected operator resumes its decisions.' })),
    }, { description: 'The builtin autoscaler\'s last decision and why.' }),
  ),
  coldStart: Type.Optional(
    Type.Object({
      startedAt: Type.String({ format: 'date-time', description: 'When the router asked for the first replica.' }),
      readyAt: Type.String({ format: 'date-time', description: 'When the router saw the first replica ready.' }),
      seconds: Type.Number({ minimum: 0, description: 'The time between, to the hundredth of a second.' }),
      parts: Type.Optional(Type.Object({
        scheduling: Type.Optional(Type.Number({ minimum: 0, description: 'From the scale-up to the pod\'s PodScheduled condition (to the second, so it may read up to a second short and containerStart that much long).' })),
        containerStart: Type.Optional(Type.Number({ minimum: 0, description: 'From scheduled to the runtime process\'s start: image pull, volumes, container creation.' })),
        modelLoad: Type.Optional(Type.Number({ minimum: 0, description: 'From the runtime process\'s start to the model\'s session open, as the runtime measured it.' })),
        warmUp: Type.Optional(Type.Number({ minimum: 0, description: 'Warm-up batches and the batch-size probe, as the runtime measured them.' })),
        ready: Type.Optional(Type.Number({ minimum: 0, description: 'The rest, from the last part read until the router saw the endpoint ready: readiness probe period and endpoint propagation.' })),
      }, { description: 'The time between, split into the parts the router could read of the first replica, in seconds to the hundredth; a part it could not read (pod gone, metrics unanswered, a process older than the scale-up) is absent, never estimated.' })),
    }, { description: 'The last scale from zero, as measured by the router that asked for it (the only writer of this field).' }),
  ),
  conditions: Type.Optional(
    Type.Array(Condition, {
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      description: 'Ready (serving), Progressing (a rollout under way or stuck) and Degraded (pods failing, with the reason).',
    }),
  ),
}, { description: 'What the operator observed; written by the operator, but coldStart by the router.' });

/** A metav1.Time as status carries it: RFC 3339 to the second. */
export const metaTime = (epochMs: number): string => new Date(epochMs).toISOString().replace(/\.\d+Z$/, 'Z');

export type Condition = Static<typeof Condition>;
export type SentimentModelStatus = Static<typeof SentimentModelStatus>;
export type Revision = Static<typeof Revision>;
export type CanaryStatus = Static<typeof CanaryStatus>;
export type RolloutChoice = Static<typeof RolloutChoice>;
export type MetricWindow = Static<typeof MetricWindow>;
export type MaxWindow = Static<typeof MaxWindow>;
export type AutoscalerState = Static<typeof AutoscalerState>;
