import Type, { type Static } from 'typebox';
import { AuthConfig, BatchingConfig, CacheConfig, ExecutionProvider, ModelConfig, Quantization, ServerConfig, SessionConfig } from '#contract/runtime-config.js';
import { StringEnum } from '#contract/string-enum.js';
import { Affinity } from './affinity.js';
import { DataKey, DNS1123_SUBDOMAIN, httpsUrlRules, ImageReference, InnerPath, LabelMap, LabelValue, ObjectName, QualifiedName, Quantity, validations } from './kube-schema.js';
import { Stream } from './stream.js';

/**
 * The SentimentModel spec, the one definition behind both the TypeScript type and the CRD schema.
 * Fields with a `default` are listed as required here, because the reconciler only ever reads
 * objects the apiserver has defaulted; the CRD generator drops them from `required` so users may
 * omit them. Fields the runtime config carries are the runtime's own definitions (#contract), with
 * a default or description of their own at most, so an accepted spec renders a valid config.
 */

const LABEL_VALUE = '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';

export const ImageSource = Type.Object({
  reference: ImageReference('Model image (an OCI image holding the model directory), pinned by tag or digest.'),
  path: InnerPath('/model', 'Model directory inside the image.'),
}, { description: 'The model as an OCI image: mounted as an image volume where the cluster supports it, else copied by an init container.' });

export const PvcSource = Type.Object({
  claimName: ObjectName('PersistentVolumeClaim in the model\'s namespace.'),
  path: InnerPath('/', 'Model directory inside the volume.'),
  readOnly: Type.Boolean({ default: true, description: 'Mount the volume read-only.' }),
}, { description: 'The model on a PersistentVolumeClaim, mounted into every pod.' });

/** userinfo (`user:password@`) in a URL's authority; exported for the unit tests (RE2 and JS agree on it). */
export const URL_USERINFO = '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@';

const KeyRef = (kind: string, description: string, defaultKey?: string) =>
  Type.Object(
    {
      name: ObjectName(`${kind} in the model's namespace.`),
      key: DataKey({ description: `Key in the ${kind}.`, ...(defaultKey ? { default: defaultKey } : {}) }),
    },
    { description },
  );

export const UrlSource = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        maxLength: 2048,
        description: 'A .tar.gz of the model directory, at a URL that is no secret: it is copied into the pod template. Shown without its query.',
        ...validations(
          ...httpsUrlRules('model.url.url'),
          {
            rule: `!self.matches('${URL_USERINFO}')`,
            message: 'model.url.url must not hold credentials (user:password@): put a URL that needs them in a Secret (model.url.urlSecretRef) or send them as a header (model.url.headersSecretRef)',
          },
        ),
      }),
    ),
    urlSecretRef: Type.Optional(
      KeyRef('Secret', 'A Secret key holding the URL, for one that is a credential itself (a presigned URL). The kubelet hands it to the download only; the operator never reads it, and a new value in the Secret is used by pods started after it without a rollout.'),
    ),
    headersSecretRef: Type.Optional(
      Type.Object(
        { name: ObjectName("Secret in the model's namespace.") },
        { description: 'A Secret whose every key is an HTTP header sent with the download, e.g. Authorization: Bearer <token>. Sent to the URL\'s own host only, not after a redirect elsewhere.' },
      ),
    ),
    caConfigMapRef: Type.Optional(
      KeyRef('ConfigMap', 'A ConfigMap key holding PEM certificates of the CAs that sign the server\'s certificate (a private CA), trusted besides the public ones.', 'ca.crt'),
    ),
    sha256: Type.String({ maxLength: 64, pattern: '^[a-f0-9]{64}$', description: 'Lowercase hex sha256 of the archive; the download is rejected on mismatch. It is the model\'s identity: the pods roll when it changes.' }),
  },
  {
    description: 'The model as a .tar.gz over https, fetched and verified by an init container.',
    ...validations({
      rule: 'has(self.url) != has(self.urlSecretRef)',
      message: 'model.url needs exactly one of url (a public URL) and urlSecretRef (a Secret key holding the URL)',
    }),
  },
);

export const ModelSource = Type.Object(
  { image: Type.Optional(ImageSource), pvc: Type.Optional(PvcSource), url: Type.Optional(UrlSource) },
  {
    description: 'Where the model directory (Hugging Face / transformers.js ONNX layout) comes from: exactly one of image, pvc or url.',
    ...validations({
      rule: '(has(self.image) ? 1 : 0) + (has(self.pvc) ? 1 : 0) + (has(self.url) ? 1 : 0) == 1',
      message: 'exactly one model source must be set: model.image, model.pvc or model.url',
    }),
  },
);

export const Runtime = Type.Object({
  image: ImageReference('Sentiment runtime image, pinned by tag or digest.'),
  executionProvider: ExecutionProvider,
  intraOpThreads: Type.With(SessionConfig.properties.intraOpThreads, {
    description: 'onnxruntime threads per inference session; 0 derives it: the CPU limit (or request) becomes one session per core of each serving process (up to 4), each with twice its share of the cores as threads, so a session running alone uses the cores idle sessions leave.',
  }),
  processes: Type.With(ServerConfig.properties.processes, {
    description:
      'Serving processes per pod on one port, each with its own copy of the model, session (on the GPU too), batcher and queue. One process answers a few thousand requests/s: raise it when a GPU outruns that (the runtime\'s server.processes).',
  }),
  imagePullPolicy: StringEnum(['Always', 'IfNotPresent', 'Never'], { default: 'IfNotPresent', description: 'Pull policy of the runtime and model images.' }),
}, { description: 'The inference runtime the pods run.' });

const batching = BatchingConfig.properties;

export const Batching = Type.Object(
  {
    ...batching,
    maxBatchDelayMs: Type.With(batching.maxBatchDelayMs, { default: 2 }),
    maxQueue: Type.With(batching.maxQueue, { description: 'Queued texts per replica beyond which requests get 429.' }),
  },
  {
    default: {},
    description: 'Dynamic batching: concurrent requests are run through the model together.',
    ...validations({ rule: 'self.maxQueue >= self.maxBatchSize', message: 'batching.maxQueue must be at least batching.maxBatchSize', fieldPath: '.maxQueue' }),
  },
);

export const Cache = Type.Object(CacheConfig.properties, { default: {}, description: 'The per-pod result cache.' });

const ComputeResources = (description: string) =>
  Type.Object({ cpu: Type.Optional(Quantity('cpu', 'CPU, e.g. 500m or 2.')), memory: Type.Optional(Quantity('memory', 'Memory, e.g. 2Gi.')) }, { description });

const notAboveLimit = (r: 'cpu' | 'memory') => ({
  rule:
    `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || ` +
    `!isQuantity(self.requests.${r}) || !isQuantity(self.limits.${r}) || ` +
    `quantity(self.requests.${r}).compareTo(quantity(self.limits.${r})) <= 0`,
  message: `resources.requests.${r} must not exceed resources.limits.${r}`,
  fieldPath: `.requests.${r}`,
});

export const Gpu = Type.Object(
  {
    count: Type.Integer({ minimum: 0, maximum: 16, default: 0, description: 'GPUs (or MIG devices) per pod; 0 runs on CPUs.' }),
    resourceName: Type.String({
      maxLength: 63,
      pattern: '^nvidia[.]com/(gpu([.]shared)?|mig-[1-7]g[.][0-9]+gb([+]me)?)$',
      default: 'nvidia.com/gpu',
      description: 'Extended resource to request: nvidia.com/gpu, or a MIG profile such as nvidia.com/mig-1g.10gb.',
    }),
    product: Type.Optional(
      Type.String({ maxLength: 63, pattern: LABEL_VALUE, description: 'Selects nodes by nvidia.com/gpu.product, e.g. NVIDIA-H100-80GB-HBM3.' }),
    ),
  },
  {
    default: {},
    description: 'GPUs per pod; the pods tolerate the nvidia.com/gpu taint when count >= 1.',
    ...validations(
      { rule: '!has(self.product) || self.count > 0', message: 'resources.gpu.product needs resources.gpu.count >= 1', fieldPath: '.product' },
      {
        // CUDA enumerates at most one MIG instance per process, so a second one would sit idle.
        rule: "!self.resourceName.startsWith('nvidia.com/mig-') || self.count <= 1",
        message: 'with a MIG resourceName, resources.gpu.count must be at most 1 (CUDA uses one MIG device per process)',
        fieldPath: '.count',
      },
    ),
  },
);

export const Resources = Type.Object(
  {
    requests: Type.Optional(ComputeResources('What the scheduler reserves per pod.')),
    limits: Type.Optional(ComputeResources('What a pod may use at most; the runtime sizes its threads and cache from them.')),
    gpu: Gpu,
  },
  { default: {}, description: 'Compute resources of each runtime pod.', ...validations(notAboveLimit('cpu'), notAboveLimit('memory')) },
);

export const Toleration = Type.Object(
  {
    key: Type.Optional(QualifiedName('a toleration key', { description: 'Taint key to tolerate (required: a toleration without a key would tolerate every taint).' })),
    operator: StringEnum(['Exists', 'Equal'], { default: 'Equal', description: 'Equal matches the taint value; Exists any value.' }),
    value: Type.Optional(LabelValue({ description: 'Taint value to match, with operator Equal.' })),
    effect: Type.Optional(StringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], { description: 'Taint effect to match; empty matches all.' })),
    tolerationSeconds: Type.Optional(Type.Integer({ format: 'int64', minimum: 0, description: 'With effect NoExecute: how long the pod stays bound after the taint appears.' })),
  },
  validations(
    {
      // core/v1 reads a toleration without a key as tolerating every taint (with Exists) and refuses it with Equal; see README, "What the apiserver refuses".
      rule: "has(self.key) && self.key != ''",
      message: 'a toleration needs a key: one without tolerates every taint, the NoExecute taints that evict pods from unreachable nodes included',
    },
    { rule: "self.operator != 'Exists' || !has(self.value)", message: 'a toleration with operator Exists must not set value' },
    {
      rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: 'tolerationSeconds applies to effect NoExecute only (how long the pod stays on a node after the taint appears)',
      fieldPath: '.tolerationSeconds',
    },
  ),
);

export const Scheduling = Type.Object(
  {
    nodeSelector: Type.Optional(LabelMap('scheduling.nodeSelector', { maxProperties: 64, description: 'Node labels the pods must match.' })),
    tolerations: Type.Optional(Type.Array(Toleration, { maxItems: 64, description: 'Taints the pods tolerate, besides the GPU taint.' })),
    affinity: Type.Optional(Affinity),
    priorityClassName: Type.Optional(
      Type.String({
        maxLength: 253,
        pattern: DNS1123_SUBDOMAIN,
        description: 'PriorityClass of the pods.',
        ...validations({
          // The only system- classes are system-node-critical and system-cluster-critical, which quota confines to kube-system.
          rule: "!self.startsWith('system-')",
          message: 'scheduling.priorityClassName system-* is reserved for cluster components: create a PriorityClass for the model',
        }),
      }),
    ),
    runtimeClassName: Type.Optional(Type.String({ maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'RuntimeClass of the pods, e.g. nvidia.' })),
  },
  { default: {}, description: 'Where the pods may run.' },
);

const CLOCK_TIME = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

/** A weekly time range in a time zone: [start, end) on each of `days`; an end at or before the start runs into the next day. */
export const WarmWindow = Type.Object(
  {
    days: Type.Array(StringEnum(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']), {
      minItems: 1, maxItems: 7, 'x-kubernetes-list-type': 'set', description: 'The days the window starts on.',
    }),
    start: Type.String({ maxLength: 5, pattern: CLOCK_TIME, description: 'Start, HH:MM on a 24-hour clock, in timeZone.' }),
    end: Type.String({ maxLength: 5, pattern: CLOCK_TIME, description: 'End (excluded), HH:MM; at or before start: the next day\'s.' }),
    timeZone: Type.String({
      default: 'UTC', minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_+/-]*$',
      description: 'An IANA time zone (Europe/Berlin); one the operator does not know keeps the window closed, with a warning in its log.',
    }),
  },
  { description: 'A weekly window of warm replicas.' },
);

export const Autoscaling = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Scale replicas with load; spec.replicas is then written by the autoscaler.' }),
    engine: StringEnum(['builtin', 'external'], { default: 'builtin', description: 'external: an HPA or KEDA drives the scale subresource.' }),
    minReplicas: Type.Integer({ minimum: 0, maximum: 1000, default: 1, description: 'Fewest replicas the autoscaler keeps.' }),
    maxReplicas: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'Most replicas the autoscaler asks for.' }),
    metric: StringEnum(['inflight', 'queueDepth', 'kafkaLag'], {
      default: 'inflight',
      description: 'What a replica is loaded with: requests in flight, texts queued for the model, or (stream mode) the input topic\'s records the consumer group has not committed, read from the brokers.',
    }),
    target: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 32, description: 'Metric value per replica to aim for; metric kafkaLag aims at kafkaLag.drainSeconds instead.' }),
    stableWindowSeconds: Type.Integer({ minimum: 6, maximum: 3600, default: 60, description: 'The metric is averaged over this window for normal decisions.' }),
    panicWindowSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 6, description: 'The shorter window that detects bursts (see panicThreshold).' }),
    panicThreshold: Type.Number({ minimum: 1, maximum: 10, default: 2, description: 'Panic when the panic-window demand exceeds this multiple of current capacity.' }),
    scaleDownDelaySeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 300, description: 'How long demand must stay low before replicas are removed (Knative KPA semantics; 5 min keeps on-boundary loads from flapping).' }),
    maxScaleUpRate: Type.Number({ minimum: 1, maximum: 10_000, default: 1000, description: 'At most this many times the current replicas per decision.' }),
    maxScaleDownRate: Type.Number({ minimum: 1, maximum: 10_000, default: 2, description: 'At least current replicas divided by this per decision.' }),
    warmWindows: Type.Optional(Type.Array(WarmWindow, {
      maxItems: 16,
      description: 'Times at which the builtin autoscaler keeps at least one replica although minReplicas is 0, so requests then meet no cold start (e.g. office hours). Outside every window minReplicas holds.',
    })),
    kafkaLag: Type.Object(
      {
        drainSeconds: Type.Integer({
          minimum: 1,
          maximum: 86_400,
          default: 60,
          description: 'Target drain time: enough replicas to consume the consumer group\'s lag within this many seconds at the records per second a replica was measured to produce, at most one per partition of the input topic.',
        }),
      },
      { default: {}, description: 'Settings of metric kafkaLag (with spec.stream.kafka): the operator reads the consumer group\'s lag from the brokers.' },
    ),
  },
  {
    default: {},
    description: 'Load-based scaling of the replicas.',
    ...validations(
      { rule: 'self.minReplicas <= self.maxReplicas', message: 'autoscaling.minReplicas must not exceed autoscaling.maxReplicas', fieldPath: '.minReplicas' },
      {
        rule: '!has(self.warmWindows) || size(self.warmWindows) == 0 || self.minReplicas == 0',
        message: 'autoscaling.warmWindows keeps one replica where minReplicas 0 would keep none; with minReplicas >= 1 it does nothing',
        fieldPath: '.warmWindows',
      },
      {
        rule: 'self.panicWindowSeconds <= self.stableWindowSeconds',
        message: 'autoscaling.panicWindowSeconds must not exceed autoscaling.stableWindowSeconds',
        fieldPath: '.panicWindowSeconds',
      },
    ),
  },
);

export const RolloutStrategy = StringEnum(['Auto', 'Surge', 'Replace'], {
  default: 'Auto',
  description: 'Surge starts new pods before stopping old ones (needs spare capacity); Replace stops old pods first; Auto lets the operator choose.',
});

const percent = (description: string) => Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description }));

export const CanaryStep = Type.Object(
  {
    shadowPercent: percent('Share of the stable revision\'s requests the router copies to the candidate; clients get the stable answer only.'),
    weightPercent: percent('Share of requests the candidate answers; the router checks each against the stable revision in the background.'),
    texts: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 200, description: 'Texts answered by both revisions before the step is judged.' }),
  },
  {
    description: 'One step of a canary: shadow traffic or a share of real traffic, judged once enough texts were compared.',
    ...validations({ rule: 'has(self.shadowPercent) != has(self.weightPercent)', message: 'a canary step needs exactly one of shadowPercent and weightPercent' }),
  },
);

const ratio = (value: number, description: string) => Type.Number({ minimum: 0, maximum: 1, default: value, description });

export const CanaryAnalysis = Type.Object(
  {
    minLabelAgreement: ratio(0.95, 'Least share of compared texts both revisions give the same label.'),
    maxNegativeShareChange: ratio(0.05, 'Largest change in the share of texts labelled negative, candidate against stable.'),
    maxScoreDrift: ratio(0.1, 'Largest change of any class\'s mean score, candidate against stable.'),
    maxErrorRate: ratio(0.01, 'Largest share of the candidate\'s requests that failed (5xx or no answer; 429 is not held against it).'),
    maxP99LatencySeconds: Type.Number({ minimum: 0.001, maximum: 3600, default: 1, description: 'Largest p99 of the candidate\'s answer time.' }),
    negativeLabel: Type.String({ minLength: 1, maxLength: 64, default: 'negative', description: 'The label that counts as negative (matched case-insensitively).' }),
  },
  { default: {}, description: 'The checks every step must pass; one that fails rolls the candidate back.' },
);

export const Canary = Type.Object(
  {
    steps: Type.Array(CanaryStep, { minItems: 1, maxItems: 10, description: 'Judged in order; after the last one passes the candidate is promoted (the stable Deployment rolls to it).' }),
    analysis: CanaryAnalysis,
  },
  { description: 'Roll a new revision out as a canary: the operator runs it beside the stable one, the router sends it shadow or weighted traffic and compares answers, and the operator promotes it or rolls it back.' },
);

export const Rollout = Type.Object(
  {
    strategy: RolloutStrategy,
    maxSurge: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Extra pods during a Surge rollout.' }),
    maxUnavailable: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Pods stopped at once during a Replace rollout.' }),
    progressDeadlineSeconds: Type.Integer({ minimum: 30, maximum: 7200, default: 600, description: 'A rollout without progress for this long is reported as stuck (Progressing False, ProgressDeadlineExceeded).' }),
    canary: Type.Optional(Canary),
  },
  { default: {}, description: 'How a change to the pod template rolls out.' },
);

export const LanguageRoute = Type.Object(
  {
    language: Type.String({
      minLength: 2,
      maxLength: 35,
      pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
      description: 'A BCP 47 language tag, e.g. zh or ja: texts mostly written in its script (Han for zh; Han and kana for ja; Latin for en) go to the model.',
    }),
    model: ObjectName('The SentimentModel in the same namespace that answers these texts. The router sends it the texts directly; its own routing is not followed.'),
  },
  { description: 'Texts in one language, and the model that answers them.' },
);

export const Routing = Type.Object(
  {
    languages: Type.Array(LanguageRoute, {
      minItems: 1,
      maxItems: 16,
      description: 'Checked in order, first match wins; texts that match none (and texts without letters) are answered by this model.',
      ...validations({ rule: 'self.all(a, self.exists_one(b, b.language == a.language))', message: 'routing.languages lists a language twice' }),
    }),
  },
  { description: 'Language routing by the router: /v1/sentiment and /predict requests for this model have each text answered by the model of its script, in one answer in the order sent; a V2 request goes whole to the model most of its texts go to.' },
);

export const ServerAuth = Type.Object({
  tokenSecretRef: Type.Object(
    {
      name: ObjectName('A Secret in the model\'s namespace.'),
      key: DataKey({ description: 'Its key holding the token; several tokens, one per line, are all accepted (rotate by adding the new one, moving clients, then removing the old).' }),
    },
    { description: 'The bearer token inference and model routes require. Mounted as a file the runtime re-reads, so changing the Secret needs no restart.' },
  ),
  metrics: Type.With(AuthConfig.properties.metrics, { description: 'Require the token on /metrics too (Prometheus then needs it). Off: /metrics stays open to whoever the network lets reach the pod.' }),
}, { description: 'Bearer-token authentication for the inference and model routes; the probes stay open.' });

export const Server = Type.Object(
  {
    requestTimeoutMs: ServerConfig.properties.requestTimeoutMs,
    playground: Type.Boolean({ default: false, description: 'Serve the runtime\'s playground page at / (off in-cluster unless asked for; it sends no token, so it is of no use with auth).' }),
    auth: Type.Optional(ServerAuth),
    drainDelaySeconds: Type.Integer({ minimum: 0, maximum: 600, default: 5, description: 'Pod keeps serving this long after deletion so endpoints can drop it.' }),
    shutdownTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'Limit for finishing in-flight work after SIGTERM.' }),
  },
  {
    default: {},
    description: 'Request deadline and graceful shutdown of the runtime.',
    ...validations({
      rule: 'self.shutdownTimeoutSeconds * 1000 >= self.requestTimeoutMs',
      message: 'server.shutdownTimeoutSeconds must cover server.requestTimeoutMs so in-flight requests can finish during a drain',
      fieldPath: '.shutdownTimeoutSeconds',
    }),
  },
);

export const SentimentModelSpec = Type.Object(
  {
    model: ModelSource,
    quantization: Type.With(Quantization, { default: 'int8' }),
    maxSequenceLength: ModelConfig.properties.maxSequenceLength,
    labels: Type.With(ModelConfig.properties.labels, { description: 'Class names in model output order; overrides the model config.' }),
    runtime: Runtime,
    batching: Batching,
    cache: Cache,
    resources: Resources,
    scheduling: Scheduling,
    replicas: Type.Integer({ minimum: 0, maximum: 1000, default: 1, format: 'int32', description: 'Runtime pods; with autoscaling enabled the autoscaler sets it (the scale subresource).' }),
    autoscaling: Autoscaling,
    rollout: Rollout,
    routing: Type.Optional(Routing),
    server: Server,
    stream: Type.Optional(Stream),
  },
  {
    description: 'The model to serve and how: its source, the runtime, batching, resources, scaling and rollout.',
    ...validations(
    {
      rule: "self.resources.gpu.count == 0 || self.runtime.executionProvider == 'cuda'",
      message: 'resources.gpu.count >= 1 requires runtime.executionProvider: cuda',
      fieldPath: '.runtime.executionProvider',
    },
    {
      rule: "self.runtime.executionProvider != 'cuda' || self.resources.gpu.count >= 1",
      message: 'runtime.executionProvider cuda requires resources.gpu.count >= 1',
      fieldPath: '.resources.gpu.count',
    },
    {
      // onnxruntime's CPU provider has almost no fp16 kernels: it casts around each op and ends up slower than fp32.
      rule: "self.quantization != 'fp16' || self.runtime.executionProvider == 'cuda'",
      message: 'quantization fp16 requires runtime.executionProvider cuda; use int8 or none on CPU',
      fieldPath: '.quantization',
    },
    {
      // The builtin autoscaler scrapes the runtime's /metrics without a token.
      rule: "!has(self.server.auth) || !self.server.auth.metrics || !self.autoscaling.enabled || self.autoscaling.engine != 'builtin'",
      message: 'server.auth.metrics closes /metrics to the builtin autoscaler: leave it false (and restrict /metrics with a NetworkPolicy) or use autoscaling.engine external',
      fieldPath: '.server.auth.metrics',
    },
    {
      rule: 'self.batching.maxBatchTokens >= self.maxSequenceLength',
      message: 'batching.maxBatchTokens must be at least maxSequenceLength so one full-length text fits in a batch',
      fieldPath: '.batching.maxBatchTokens',
    },
    {
      rule: "self.replicas > 0 || !self.autoscaling.enabled || self.autoscaling.engine != 'builtin' || self.autoscaling.minReplicas == 0",
      message: 'replicas 0 with the builtin autoscaler enabled: it keeps at least autoscaling.minReplicas; set autoscaling.minReplicas 0 to let it scale to zero',
      fieldPath: '.replicas',
    },
    {
      rule: "self.autoscaling.metric != 'kafkaLag' || has(self.stream)",
      message: 'autoscaling.metric kafkaLag requires spec.stream.kafka: the lag is that consumer group\'s on its input topic',
      fieldPath: '.autoscaling.metric',
    },
    {
      rule: '!has(self.stream) || self.stream.kafka.maxInFlight < self.batching.maxQueue',
      message: 'stream.kafka.maxInFlight must be below batching.maxQueue so HTTP requests keep room in the queue',
      fieldPath: '.stream.kafka.maxInFlight',
    },
    {
      rule: "!has(self.resources.gpu.product) || !has(self.scheduling.nodeSelector) || !('nvidia.com/gpu.product' in self.scheduling.nodeSelector)",
      message: 'set the GPU product in resources.gpu.product, not as scheduling.nodeSelector nvidia.com/gpu.product',
      fieldPath: '.scheduling.nodeSelector',
    },
    ),
  },
);

export type SentimentModelSpec = Static<typeof SentimentModelSpec>;
export type ModelSource = Static<typeof ModelSource>;
export type UrlSource = Static<typeof UrlSource>;
export type RolloutStrategy = Static<typeof RolloutStrategy>;
export type Server = Static<typeof Server>;
export type Routing = Static<typeof Routing>;
export type Canary = Static<typeof Canary>;
export type CanaryStep = Static<typeof CanaryStep>;
export type CanaryAnalysis = Static<typeof CanaryAnalysis>;
