import Type, { type Static } from 'typebox';
import { StringEnum } from './string-enum.js';

/**
 * The runtime's whole configuration: the contract between the runtime, which reads it at start,
 * and the operator, which renders it into the ConfigMap every runtime pod mounts and builds the
 * CRD's batching, cache, model and runtime fields from these definitions. Every object is closed
 * (additionalProperties: false) so a typo fails at start, not silently.
 */
const closed = { additionalProperties: false } as const;
/** A Kafka topic name as Kafka allows it. */
export const KafkaTopic = (description: string) => Type.String({ minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$', description });

export const Quantization = StringEnum(['none', 'fp16', 'int8'], {
  description: 'Which ONNX file of the model directory runs: none onnx/model.onnx (fp32), fp16 onnx/model_fp16.onnx, int8 onnx/model_quantized.onnx.',
});
export const ExecutionProvider = StringEnum(['cpu', 'cuda'], { default: 'cpu', description: 'The onnxruntime execution provider: cpu, or cuda on an NVIDIA GPU.' });

export const ModelConfig = Type.Object(
  {
    path: Type.String({ minLength: 1, default: 'models/sst2-bert-mini-en', description: 'Model directory (Hugging Face / transformers.js ONNX layout).' }),
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$', maxLength: 63, default: 'sentiment', description: 'Name served on the V2 API and in metrics.' }),
    revision: Type.String({ minLength: 1, maxLength: 128, default: 'local', description: 'Revision label; part of the cache key and metrics.' }),
    quantization: Type.Optional(Quantization),
    maxSequenceLength: Type.Integer({ minimum: 8, maximum: 8192, default: 512, description: 'Capped by max_position_embeddings.' }),
    labels: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 2, maxItems: 64, description: 'Overrides config.json id2label, in class order.' })),
  },
  closed,
);

export const SessionConfig = Type.Object(
  {
    executionProvider: ExecutionProvider,
    cudaDeviceId: Type.Integer({ minimum: 0, maximum: 63, default: 0 }),
    allowCpuFallback: Type.Boolean({ default: false, description: 'With executionProvider cuda: serve on the CPU (with a warning) when CUDA cannot start, instead of failing.' }),
    sessions: Type.Integer({
      minimum: 0,
      maximum: 64,
      default: 0,
      description: 'Inference sessions per serving process, each in its own worker thread with its own copy of the model, so every core of the quota has work. 0 derives it from the CPU quota (cgroup), one per core up to 4; with executionProvider cuda, 0 means 1.',
    }),
    intraOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 0, description: 'onnxruntime threads per session; 0 derives it from the CPU quota (cgroup): each session gets twice its share of the cores, so one running alone uses the cores idle sessions leave.' }),
    interOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 1 }),
    spinWait: Type.Boolean({ default: false, description: 'Let onnxruntime threads spin while waiting for work: lower latency on dedicated cores, wasted CPU when the cores are shared (HTTP, tokenizer, CPU limits).' }),
    concurrentBatches: Type.Integer({ minimum: 1, maximum: 8, default: 1, description: 'Batches run at once on each session.' }),
    warmupTexts: Type.Integer({ minimum: 1, maximum: 1024, default: 8 }),
  },
  closed,
);

export const BatchingConfig = Type.Object(
  {
    maxBatchSize: Type.Integer({ minimum: 1, maximum: 1024, default: 32, description: 'Texts per batch; 1 turns batching off.' }),
    maxBatchDelayMs: Type.Number({ minimum: 0, maximum: 1000, default: 0, description: 'How long the first queued text may wait for company while the session is idle; 0 dispatches at once (texts arriving during a run still batch together).' }),
    maxBatchTokens: Type.Integer({ minimum: 8, maximum: 1_048_576, default: 8192, description: 'Padded tokens per batch (rows x longest row).' }),
    maxQueue: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 2048, description: 'Queued texts beyond which requests get 429.' }),
  },
  closed,
);

export const CacheConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Keep answers in an LRU cache keyed by a digest of the model revision and the exact text.' }),
    maxEntries: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000, description: 'Answers the cache holds at most.' }),
    maxBytes: Type.Optional(
      Type.Integer({
        minimum: 1_048_576,
        maximum: 1_099_511_627_776,
        description: 'Bound on the heap the cache holds (its entries estimated at ~300 bytes plus 16 per label), reached before or after maxEntries. Default: a sixteenth of the container memory limit (cgroup), or 64 MiB without one.',
      }),
    ),
    ttlSeconds: Type.Integer({ minimum: 1, maximum: 604_800, default: 600, description: 'How long a cached answer is served.' }),
  },
  closed,
);

export const ServerConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '0.0.0.0' }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080 }),
    probePort: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65_535,
        description: 'A second port answering only /healthz and /readyz, from a thread of its own, so probes never wait behind inference traffic (the operator points the kubelet here). Unset: the probes are on the serving port only.',
      }),
    ),
    processes: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 1,
      description: 'Serving processes sharing the port, each with its own session and batcher. One event loop answers ~7k requests/s (measured on an H200 host); raise it where one GPU outruns that.',
    }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 104_857_600, default: 1_048_576 }),
    maxTextsPerRequest: Type.Integer({ minimum: 1, maximum: 100_000, default: 256 }),
    maxTextChars: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
    requestTimeoutMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 30_000, description: 'Deadline from arrival to answer; queued work past it is dropped.' }),
    headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 10_000, description: 'A connection whose request headers have not all arrived this long after its first byte is answered 408 and closed.' }),
    bodyTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000, description: 'A connection whose whole request (headers and body) has not arrived this long after its first byte is answered 408 and closed: a Content-Length that promises more than is sent holds no connection longer.' }),
    drainDelayMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5_000, description: 'After SIGTERM: not ready at once, still accepting for this long so endpoints can update.' }),
    shutdownTimeoutMs: Type.Integer({ minimum: 1_000, maximum: 3_600_000, default: 30_000, description: 'Hard limit for the whole drain after SIGTERM.' }),
    playground: Type.Boolean({ default: true, description: 'Serve the playground page at /. On for the local demo; the operator renders it off unless the model asks for it.' }),
  },
  closed,
);

export const AuthConfig = Type.Object(
  {
    tokenFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'File holding the bearer tokens inference routes accept, one per line (a mounted Secret; never the token itself in the config). Unset: no authentication. Re-read every few seconds, so a rotated Secret takes effect without a restart.',
      }),
    ),
    metrics: Type.Boolean({ default: false, description: 'Require the token on /metrics too. Off: /metrics stays open and a NetworkPolicy decides who reaches it.' }),
  },
  closed,
);

export const LoggingConfig = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  closed,
);

export const SaslMechanism = StringEnum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);

/**
 * Stream mode: texts consumed from a Kafka topic inside the serving process, results produced to
 * another. Flat keys so every one has an environment name: the operator puts the SASL credentials
 * in SENTIMENT_STREAM_SASL_USERNAME/PASSWORD from a Secret and the TLS files on a Secret volume,
 * never in the ConfigMap. Off while bootstrapServers is unset.
 */
export const StreamConfig = Type.Object(
  {
    bootstrapServers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { minItems: 1, maxItems: 64, description: 'Kafka brokers as host:port; set to turn stream mode on.' })),
    inputTopic: Type.Optional(KafkaTopic('Topic the texts arrive on.')),
    outputTopic: Type.Optional(KafkaTopic('Topic the results leave on, keyed like their input.')),
    deadLetterTopic: Type.Optional(KafkaTopic('Topic for records that cannot be classified (not UTF-8, bad JSON, empty, too large), with a reason header; unset: they are counted, logged and skipped.')),
    groupId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Consumer group; default sentiment-<model.name>.' })),
    inputField: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^.]+(\\.[^.]+)*$', description: 'Dot-separated path of the text in a JSON value (e.g. payload.text); unset: the whole value is the text (UTF-8).' })),
    startOffset: StringEnum(['earliest', 'latest'], { default: 'earliest', description: 'Where a group without a committed offset starts.' }),
    maxMessageBytes: Type.Integer({ minimum: 1, maximum: 104_857_600, default: 1_048_576, description: 'Larger record values are dead-lettered (too-large).' }),
    maxInFlight: Type.Integer({ minimum: 1, maximum: 100_000, default: 256, description: 'Records consumed but not yet produced and committed; fetching pauses beyond it. Keep it below batching.maxQueue so HTTP requests always find room.' }),
    sessionTimeoutMs: Type.Integer({ minimum: 6_000, maximum: 300_000, default: 30_000, description: 'How long the group waits for a silent member (a killed pod) before its partitions move to the others.' }),
    tls: Type.Boolean({ default: false, description: 'Connect with TLS (implied by tlsCaFile and tlsCertFile).' }),
    tlsCaFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle to trust instead of the system roots.' })),
    tlsCertFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate (mutual TLS); needs tlsKeyFile.' })),
    tlsKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM client key; needs tlsCertFile.' })),
    saslMechanism: Type.Optional(SaslMechanism),
    saslUsername: Type.Optional(Type.String({ minLength: 1 })),
    saslPassword: Type.Optional(Type.String({ minLength: 1 })),
  },
  closed,
);

export const RuntimeConfig = Type.Object(
  {
    model: Type.Object(ModelConfig.properties, { ...closed, default: {} }),
    session: Type.Object(SessionConfig.properties, { ...closed, default: {} }),
    batching: Type.Object(BatchingConfig.properties, { ...closed, default: {} }),
    cache: Type.Object(CacheConfig.properties, { ...closed, default: {} }),
    server: Type.Object(ServerConfig.properties, { ...closed, default: {} }),
    auth: Type.Object(AuthConfig.properties, { ...closed, default: {} }),
    logging: Type.Object(LoggingConfig.properties, { ...closed, default: {} }),
    stream: Type.Object(StreamConfig.properties, { ...closed, default: {} }),
  },
  closed,
);

export type RuntimeConfig = Static<typeof RuntimeConfig>;
export type Quantization = Static<typeof Quantization>;
export type ExecutionProvider = Static<typeof ExecutionProvider>;
export type StreamConfig = Static<typeof StreamConfig>;

/** Rules between stream settings the schema cannot express; each string names the keys involved. */
export function streamProblems(config: RuntimeConfig): string[] {
  const stream = config.stream;
  const problems: string[] = [];
  if (!stream.bootstrapServers) {
    const set = (['inputTopic', 'outputTopic', 'deadLetterTopic', 'groupId', 'inputField', 'tlsCaFile', 'tlsCertFile', 'tlsKeyFile', 'saslMechanism', 'saslUsername', 'saslPassword'] as const).filter((key) => stream[key] !== undefined);
    if (set.length > 0) problems.push(`${set.map((key) => `stream.${key}`).join(', ')} need stream.bootstrapServers`);
    return problems;
  }
  if (!stream.inputTopic) problems.push('stream.inputTopic is required with stream.bootstrapServers');
  if (!stream.outputTopic) problems.push('stream.outputTopic is required with stream.bootstrapServers');
  if (stream.inputTopic && (stream.inputTopic === stream.outputTopic || stream.inputTopic === stream.deadLetterTopic)) {
    problems.push('stream.inputTopic must differ from stream.outputTopic and stream.deadLetterTopic');
  }
  if ((stream.tlsCertFile === undefined) !== (stream.tlsKeyFile === undefined)) problems.push('stream.tlsCertFile and stream.tlsKeyFile go together');
  if (stream.saslMechanism && (!stream.saslUsername || !stream.saslPassword)) problems.push(`stream.saslMechanism ${stream.saslMechanism} needs stream.saslUsername and stream.saslPassword`);
  if (!stream.saslMechanism && (stream.saslUsername || stream.saslPassword)) problems.push('stream.saslUsername and stream.saslPassword need stream.saslMechanism');
  if (stream.maxInFlight >= config.batching.maxQueue) problems.push('stream.maxInFlight must be below batching.maxQueue so HTTP requests keep room in the queue');
  return problems;
}
