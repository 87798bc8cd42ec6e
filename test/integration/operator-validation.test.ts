// The CRD's schema and CEL rules on a real apiserver: bad SentimentModels never reach the operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../support/controlplane.js';
import { applyObject, errorText } from '../support/kube.js';
import { startControlPlane } from '../support/controlplane.js';
import { applyModel, modelManifest, MODEL_IMAGE, RUNTIME_IMAGE } from '../support/operator.js';
import { FULL_SCHEDULING } from '../support/scheduling.js';

const ns = 'default';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const kafka = (fields: Record<string, unknown>) => ({ stream: { kafka: { bootstrapServers: ['kafka:9092'], inputTopic: 'texts', outputTopic: 'results', ...fields } } });
const cuda = (gpu: Record<string, unknown>) => ({ runtime: { image: RUNTIME_IMAGE, executionProvider: 'cuda' }, resources: { gpu } });
const requests = (r: Record<string, unknown>) => ({ resources: { requests: r } });
const limits = (r: Record<string, unknown>) => ({ resources: { limits: r } });
const modelUrl = (url: string) => ({ model: { url: { url, sha256: 'a'.repeat(64) } } });
const tolerations = (...t: Record<string, unknown>[]) => ({ scheduling: { tolerations: t } });
const affinity = (a: Record<string, unknown>) => ({ scheduling: { affinity: a } });
const requiredNodeTerms = (...nodeSelectorTerms: unknown[]) => affinity({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } });
const antiAffinity = (term: Record<string, unknown>) => affinity({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } });

// [case, spec fields replacing the valid defaults of modelManifest (or a name), expected message]
const invalid: [string, Record<string, unknown>, string][] = [
  ['runtime image tagged latest', { runtime: { image: 'ghcr.io/example/sentiment-runtime:latest' } }, "image tag 'latest' is not allowed"],
  ['runtime image without tag or digest', { runtime: { image: 'ghcr.io/example/sentiment-runtime' } }, 'image must be pinned by a tag or a digest'],
  ['model image tagged latest', { model: { image: { reference: 'ghcr.io/example/sst2:latest' } } }, "image tag 'latest' is not allowed"],
  ['a malformed digest', { runtime: { image: 'ghcr.io/example/sentiment-runtime@sha256:abc' } }, 'image digest must be @sha256: followed by 64 lowercase hex'],
  ['no model source', { model: {} }, 'exactly one model source must be set'],
  ['two model sources', { model: { image: { reference: MODEL_IMAGE }, pvc: { claimName: 'models' } } }, 'exactly one model source must be set'],
  ['a plain-http model URL', { model: { url: { url: 'http://example.com/m.tar.gz', sha256: 'a'.repeat(64) } } }, 'model.url.url must be an https:// URL'],
  ['a model path escaping the image', { model: { image: { reference: MODEL_IMAGE, path: '/model/../etc' } } }, "path must not contain '..'"],
  ['an unknown quantization', { quantization: 'int4' }, 'Unsupported value: "int4"'],
  ['fp16 on CPU', { quantization: 'fp16' }, 'quantization fp16 requires runtime.executionProvider cuda'],
  ['a sequence length below 8', { maxSequenceLength: 4 }, 'spec.maxSequenceLength: Invalid value: 4: spec.maxSequenceLength in body should be greater than or equal to 8'],
  ['a sequence length above 8192', { maxSequenceLength: 9000 }, 'should be less than or equal to 8192'],
  ['a batch size above 1024', { batching: { maxBatchSize: 2048, maxQueue: 4096 } }, 'spec.batching.maxBatchSize in body should be less than or equal to 1024'],
  ['a queue shorter than a batch', { batching: { maxBatchSize: 64, maxQueue: 32 } }, 'batching.maxQueue must be at least batching.maxBatchSize'],
  ['a token budget below one full-length text', { maxSequenceLength: 1024, batching: { maxBatchTokens: 512 } }, 'batching.maxBatchTokens must be at least maxSequenceLength'],
  ['min replicas above max', { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } }, 'autoscaling.minReplicas must not exceed autoscaling.maxReplicas'],
  ['warm windows with minReplicas 1', { autoscaling: { enabled: true, minReplicas: 1, warmWindows: [{ days: ['Mon'], start: '08:00', end: '18:00' }] } }, 'autoscaling.warmWindows keeps one replica where minReplicas 0 would keep none'],
  ['a warm window at 24:00', { replicas: 0, autoscaling: { enabled: true, minReplicas: 0, warmWindows: [{ days: ['Mon'], start: '08:00', end: '24:00' }] } }, 'spec.autoscaling.warmWindows[0].end in body should match'],
  ['a warm window on a day that is none', { replicas: 0, autoscaling: { enabled: true, minReplicas: 0, warmWindows: [{ days: ['Monday'], start: '08:00', end: '18:00' }] } }, 'Unsupported value: "Monday"'],
  ['metric kafkaLag without a stream', { autoscaling: { enabled: true, metric: 'kafkaLag' } }, 'autoscaling.metric kafkaLag requires spec.stream.kafka'],
  ['negative replicas', { replicas: -1 }, 'spec.replicas in body should be greater than or equal to 0'],
  ['a language routed twice', { routing: { languages: [{ language: 'zh', model: 'a' }, { language: 'zh', model: 'b' }] } }, 'routing.languages lists a language twice'],
  ['a language route without a language tag', { routing: { languages: [{ language: 'Chinese', model: 'a' }] } }, 'spec.routing.languages[0].language in body should match'],
  ['GPUs with the CPU provider', { resources: { gpu: { count: 1 } } }, 'resources.gpu.count >= 1 requires runtime.executionProvider: cuda'],
  ['cuda without a GPU', cuda({ count: 0 }), 'runtime.executionProvider cuda requires resources.gpu.count >= 1'],
  ['a GPU product without GPUs', { resources: { gpu: { product: 'NVIDIA-H100-80GB-HBM3' } } }, 'resources.gpu.product needs resources.gpu.count >= 1'],
  ['two MIG slices', cuda({ count: 2, resourceName: 'nvidia.com/mig-1g.10gb' }), 'with a MIG resourceName, resources.gpu.count must be at most 1'],
  ['an unknown GPU resource', cuda({ count: 1, resourceName: 'amd.com/gpu' }), 'spec.resources.gpu.resourceName in body should match'],
  ['a CPU request above its limit', { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }, 'resources.requests.cpu must not exceed resources.limits.cpu'],
  ['a malformed quantity', { resources: { requests: { memory: '1 GiB' } } }, 'spec.resources.requests.memory in body should match'],
  ['a toleration Exists with a value', { scheduling: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] } }, 'a toleration with operator Exists must not set value'],
  // Quantities the Deployment would refuse, or the scheduler could never satisfy (issue 18).
  ['a negative memory request', requests({ memory: '-1Gi' }), 'spec.resources.requests.memory: Invalid value: "-1Gi": memory must not be negative'],
  ['a negative CPU limit', limits({ cpu: '-2' }), 'spec.resources.limits.cpu: Invalid value: "-2": cpu must not be negative'],
  ['an absurd CPU request', requests({ cpu: '1e1000' }), 'cpu must be at most 4096'],
  ['an absurd memory limit', limits({ memory: '999999999999Ei' }), 'memory must be at most 64Ti'],
  ['fractional bytes of memory', requests({ memory: '0.5' }), 'memory must be a whole number of bytes'],
  ['milli-bytes of memory', limits({ memory: '1500m' }), 'memory must be a whole number of bytes'],
  ['a CPU quantity that is no quantity', requests({ cpu: 'two' }), 'cpu must be a Kubernetes quantity'],
  // Tolerations and node selectors, by the core/v1 rules.
  ['a toleration key with spaces', tolerations({ key: 'dedicated node', operator: 'Exists' }), 'spec.scheduling.tolerations[0].key in body should match'],
  ['a toleration value with spaces', tolerations({ key: 'dedicated', value: 'ml team' }), 'spec.scheduling.tolerations[0].value in body should match'],
  ['tolerationSeconds with NoSchedule', tolerations({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 60 }), 'tolerationSeconds applies to effect NoExecute only'],
  ['Equal with an empty key', tolerations({ key: '', operator: 'Equal', value: 'ml' }), 'a toleration needs a key'],
  ['a toleration of every taint', tolerations({ operator: 'Exists' }), 'a toleration needs a key: one without tolerates every taint'],
  ['a nodeSelector key with spaces', { scheduling: { nodeSelector: { 'node pool': 'gpu' } } }, 'scheduling.nodeSelector keys must be label keys'],
  ['a nodeSelector value with spaces', { scheduling: { nodeSelector: { pool: 'gpu pool' } } }, 'spec.scheduling.nodeSelector.pool in body should match'],
  ['a reserved priority class', { scheduling: { priorityClassName: 'system-node-critical' } }, 'scheduling.priorityClassName system-* is reserved for cluster components'],
  // Affinity, checked as a core/v1 Affinity instead of copied to the pods verbatim.
  ['empty nodeSelectorTerms', requiredNodeTerms(), 'nodeSelectorTerms in body should have at least 1 items'],
  ['In without values', requiredNodeTerms({ matchExpressions: [{ key: 'zone', operator: 'In' }] }), 'operator In and NotIn need at least one value'],
  ['Exists with values', requiredNodeTerms({ matchExpressions: [{ key: 'zone', operator: 'Exists', values: ['a'] }] }), 'operator Exists and DoesNotExist take no values'],
  ['Gt with a word', requiredNodeTerms({ matchExpressions: [{ key: 'gpu-count', operator: 'Gt', values: ['many'] }] }), 'operator Gt and Lt take exactly one integer value'],
  ['an unknown operator', requiredNodeTerms({ matchExpressions: [{ key: 'zone', operator: 'Like', values: ['a'] }] }), 'Unsupported value: "Like"'],
  ['matchFields on a label', requiredNodeTerms({ matchFields: [{ key: 'metadata.labels', operator: 'In', values: ['a'] }] }), 'Unsupported value: "metadata.labels"'],
  ['a node affinity key with spaces', requiredNodeTerms({ matchExpressions: [{ key: 'gpu type', operator: 'Exists' }] }), 'key in body should match'],
  ['a preference weight above 100', affinity({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1000, preference: {} }] } }), 'weight in body should be less than or equal to 100'],
  ['a pod affinity term without topologyKey', antiAffinity({ labelSelector: { matchLabels: { app: 'sst2' } } }), 'topologyKey: Required value'],
  ['a label selector key with spaces', antiAffinity({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'my app': 'sst2' } } }), 'matchLabels keys must be label keys'],
  ['matchLabelKeys without a selector', antiAffinity({ topologyKey: 'kubernetes.io/hostname', matchLabelKeys: ['pod-template-hash'] }), 'matchLabelKeys and mismatchLabelKeys need a labelSelector'],
  // Model URLs and images the runtime could never fetch or pull.
  ['a model URL that is only a scheme', modelUrl('https://'), 'model.url.url must be an https:// URL with a host'],
  ['a model URL with spaces', modelUrl('https://models.example.com/my model.tar.gz'), 'model.url.url must not contain spaces'],
  ['a model URL to the instance metadata service', modelUrl('https://169.254.169.254/latest/meta-data/model.tar.gz'), 'must not point to a link-local or instance metadata address'],
  ['a model URL to the EC2 IPv6 metadata address', modelUrl('https://[fd00:ec2::254]/model.tar.gz'), 'must not point to a link-local or instance metadata address'],
  ['a model URL to an IPv6 link-local address', modelUrl('https://[fe80::1]/model.tar.gz'), 'must not point to a link-local or instance metadata address'],
  ['a model URL host in decimal notation', modelUrl('https://2852039166/model.tar.gz'), 'model.url.url host must be a DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address'],
  ['a model URL to an IPv4-mapped IPv6 address', modelUrl('https://[::ffff:169.254.169.254]/model.tar.gz'), 'no IPv4-mapped form'],
  ['a model URL host in hex notation', modelUrl('https://0xa9fea9fe/model.tar.gz'), 'model.url.url host must be a DNS name'],
  ['an image repository in uppercase', { runtime: { image: 'ghcr.io/Example/Sentiment-Runtime:0.1.0' } }, 'its repository in lowercase'],
  ['replicas 0 under the builtin autoscaler', { replicas: 0, autoscaling: { enabled: true, minReplicas: 1 } }, 'replicas 0 with the builtin autoscaler enabled'],
  ['a drain shorter than a request', { server: { requestTimeoutMs: 60_000, shutdownTimeoutSeconds: 10 } }, 'server.shutdownTimeoutSeconds must cover server.requestTimeoutMs'],
  ['stream results onto the input topic', kafka({ outputTopic: 'texts' }), 'stream.kafka.inputTopic and stream.kafka.outputTopic must differ'],
  ['dead letters onto the output topic', kafka({ deadLetterTopic: 'results' }), 'stream.kafka.deadLetterTopic must differ from the input and output topics'],
  ['stream records filling the queue', kafka({ maxInFlight: 2048 }), 'stream.kafka.maxInFlight must be below batching.maxQueue'],
  ['a bootstrap server without a port', kafka({ bootstrapServers: ['kafka'] }), 'spec.stream.kafka.bootstrapServers[0] in body should match'],
  ['SASL without a Secret', kafka({ sasl: { mechanism: 'SCRAM-SHA-512' } }), 'spec.stream.kafka.sasl.secretName: Required value'],
  ['a token Secret without a key', { server: { auth: { tokenSecretRef: { name: 'reviews-token' } } } }, 'spec.server.auth.tokenSecretRef.key: Required value'],
  ['/metrics behind the token with the builtin autoscaler', { autoscaling: { enabled: true }, server: { auth: { tokenSecretRef: { name: 'reviews-token', key: 'token' }, metrics: true } } }, 'server.auth.metrics closes /metrics to the builtin autoscaler'],
  ['a canary step both shadow and weighted', { rollout: { canary: { steps: [{ shadowPercent: 100, weightPercent: 10 }] } } }, 'a canary step needs exactly one of shadowPercent and weightPercent'],
  ['a canary without steps', { rollout: { canary: { steps: [] } } }, 'spec.rollout.canary.steps: Invalid value'],
  ['a canary agreement above 1', { rollout: { canary: { steps: [{ weightPercent: 10 }], analysis: { minLabelAgreement: 1.5 } } } }, 'spec.rollout.canary.analysis.minLabelAgreement: Invalid value'],
];

describe('operator: SentimentModel validation by the apiserver', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('has a table of at least 15 invalid manifests', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(15);
  });

  it.each(invalid)('rejects %s', async (_case, spec, message) => {
    const err = await applyModel(cp.kubeConfig, ns, 'bad', spec).then(() => undefined, (e: unknown) => e);
    expect(err, 'the apiserver accepted it').toBeDefined();
    expect(errorText(err)).toMatch(/^HTTP 422: /);
    expect(errorText(err)).toContain(message);
  });

  // Server-side apply refuses these before validation, with its own status code (500) and message.
  it.each<[string, Record<string, unknown>, string]>([
    ['affinity of the wrong type', affinity({ nodeAffinity: 'gpu-nodes' }), '.spec.scheduling.affinity.nodeAffinity: expected map, got'],
    ['a weight that is a string', affinity({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 'high', preference: {} }] } }), 'weight: expected numeric (int or float), got string'],
    [
      'an unknown affinity field',
      affinity({ nodeAffinity: { requiredDuringScheduling: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] } } }),
      '.spec.scheduling.affinity.nodeAffinity.requiredDuringScheduling: field not declared in schema',
    ],
    ['a warm window on a day twice', { replicas: 0, autoscaling: { enabled: true, minReplicas: 0, warmWindows: [{ days: ['Mon', 'Mon'], start: '08:00', end: '18:00' }] } }, '.spec.autoscaling.warmWindows[0].days: duplicate entries'],
  ])('refuses %s instead of copying it to the pods', async (_case, spec, message) => {
    const err = await applyModel(cp.kubeConfig, ns, 'bad', spec).then(() => undefined, (e: unknown) => e);
    expect(err, 'the apiserver accepted it').toBeDefined();
    expect(errorText(err)).toContain(message);
  });

  it('accepts the scheduling a real deployment uses', async () => {
    const scheduling = { ...FULL_SCHEDULING, priorityClassName: 'inference-high' };
    const model = await applyModel(cp.kubeConfig, ns, 'good', {
      ...modelUrl('https://models.example.com:8443/sst2/model.tar.gz?X-Amz-Signature=abc'),
      resources: { requests: { cpu: '250m', memory: '1.5Gi' }, limits: { cpu: '2', memory: '64Ti' } },
      scheduling,
    });
    expect(model.spec.scheduling).toEqual(scheduling);
  });

  it('accepts warm windows on a model that scales to zero, in UTC unless a zone is named', async () => {
    const model = await applyModel(cp.kubeConfig, ns, 'warm', {
      replicas: 0, autoscaling: { enabled: true, minReplicas: 0, warmWindows: [{ days: ['Mon', 'Fri'], start: '08:00', end: '18:00' }, { days: ['Sun'], start: '22:00', end: '02:00', timeZone: 'Europe/Berlin' }] },
    });
    expect(model.spec.autoscaling.warmWindows).toEqual([
      { days: ['Mon', 'Fri'], start: '08:00', end: '18:00', timeZone: 'UTC' },
      { days: ['Sun'], start: '22:00', end: '02:00', timeZone: 'Europe/Berlin' },
    ]);
  });

  it('accepts a stream model at zero replicas that the lag autoscaler scales from zero', async () => {
    const model = await applyModel(cp.kubeConfig, ns, 'lagged', {
      ...kafka({}), replicas: 0, autoscaling: { enabled: true, metric: 'kafkaLag', minReplicas: 0, kafkaLag: { drainSeconds: 30 } },
    });
    expect(model.spec.replicas).toBe(0);
    expect(model.spec.autoscaling).toMatchObject({ metric: 'kafkaLag', minReplicas: 0, kafkaLag: { drainSeconds: 30 } });
  });

  it.each([
    'https://models.ml.svc.cluster.local:8443/sst2.tar.gz',
    'https://models/sst2.tar.gz',
    'https://10.0.0.5/sst2.tar.gz',
    'https://[2001:db8::5]:8443/sst2.tar.gz',
    'https://bucket.s3.eu-west-1.amazonaws.com/sst2.tar.gz?X-Amz-Signature=abc%20def#frag',
  ])('accepts the model URL %s', async (url) => {
    const model = await applyModel(cp.kubeConfig, ns, 'url', modelUrl(url));
    expect(model.spec.model.url?.url).toBe(url);
  });

  it('rejects a name that cannot name a Service', async () => {
    const err = await applyObject(cp.kubeConfig, modelManifest(ns, '1-model')).then(() => undefined, (e: unknown) => e);
    expect(errorText(err)).toContain('metadata.name must be a DNS-1035 label');
  });

  it('accepts a minimal manifest, pinned by digest, and fills in the defaults', async () => {
    const model = await applyObject(cp.kubeConfig, {
      apiVersion: 'serving.sentiment.dev/v1alpha1', kind: 'SentimentModel', metadata: { name: 'minimal', namespace: ns },
      spec: { model: { image: { reference: `${MODEL_IMAGE}@${DIGEST}` } }, runtime: { image: `ghcr.io/example/sentiment-runtime@${DIGEST}` } },
    });
    expect(model).toMatchObject({
      spec: {
        quantization: 'int8', maxSequenceLength: 512, replicas: 1,
        model: { image: { path: '/model' } },
        runtime: { executionProvider: 'cpu', imagePullPolicy: 'IfNotPresent' },
        batching: { maxBatchSize: 32, maxQueue: 2048 },
        resources: { gpu: { count: 0, resourceName: 'nvidia.com/gpu' } },
        autoscaling: { enabled: false, minReplicas: 1, maxReplicas: 10 },
        rollout: { strategy: 'Auto' },
        server: { playground: false },
      },
    });
    expect(model.spec).not.toHaveProperty('server.auth');
  });

  it('accepts a token Secret, and /metrics behind it where no builtin autoscaler scrapes', async () => {
    const auth = { tokenSecretRef: { name: 'reviews-token', key: 'token' }, metrics: true };
    for (const [name, autoscaling] of [['token-static', { enabled: false }], ['token-external', { enabled: true, engine: 'external' }]] as const) {
      const model = await applyObject(cp.kubeConfig, {
        apiVersion: 'serving.sentiment.dev/v1alpha1', kind: 'SentimentModel', metadata: { name, namespace: ns },
        spec: { model: { image: { reference: `${MODEL_IMAGE}@${DIGEST}` } }, runtime: { image: `ghcr.io/example/sentiment-runtime@${DIGEST}` }, autoscaling, server: { auth } },
      });
      expect(model.spec).toMatchObject({ server: { auth } });
    }
  });

  it('accepts scale to zero under the builtin autoscaler: minReplicas 0, at 0 replicas', async () => {
    const model = await applyModel(cp.kubeConfig, ns, 'scale-to-zero', { replicas: 0, autoscaling: { enabled: true, minReplicas: 0 } });
    expect(model.spec).toMatchObject({ replicas: 0, autoscaling: { enabled: true, engine: 'builtin', minReplicas: 0 } });
  });
});

describe('operator: URL model sources by the apiserver (credentials stay out of the spec)', () => {
  let cp: ControlPlane;
  const SHA = 'a'.repeat(64);
  const url = (source: Record<string, unknown>) => ({ model: { url: { sha256: SHA, ...source } } });

  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a password in the URL', url({ url: 'https://user:hunter2@models.example/m.tar.gz' }), 'model.url.url must not hold credentials (user:password@)'],
    ['a token as the URL user', url({ url: 'https://ghp_token@models.example/m.tar.gz' }), 'model.url.url must not hold credentials'],
    ['both url and urlSecretRef', url({ url: 'https://models.example/m.tar.gz', urlSecretRef: { name: 'model-url', key: 'url' } }), 'model.url needs exactly one of url (a public URL) and urlSecretRef'],
    ['neither url nor urlSecretRef', url({ headersSecretRef: { name: 'model-token' } }), 'model.url needs exactly one of url (a public URL) and urlSecretRef'],
    ['a Secret name that is no DNS subdomain', url({ urlSecretRef: { name: 'Model_URL', key: 'url' } }), 'spec.model.url.urlSecretRef.name in body should match'],
  ])('rejects %s', async (_case, spec, message) => {
    const err = await applyModel(cp.kubeConfig, ns, 'bad-url', spec).then(() => undefined, (e: unknown) => e);
    expect(err, 'the apiserver accepted it').toBeDefined();
    expect(errorText(err)).toMatch(/^HTTP 422: /);
    // The apiserver echoes the refused value ("Invalid value: …") to the one who sent it; nothing is stored.
    expect(errorText(err)).toContain(message);
  });

  it('accepts a URL from a Secret with headers and a private CA, defaulting the CA key to ca.crt', async () => {
    const model = await applyModel(cp.kubeConfig, ns, 'private-url', url({
      urlSecretRef: { name: 'model-url', key: 'presigned' }, headersSecretRef: { name: 'model-token' }, caConfigMapRef: { name: 'internal-ca' },
    }));
    expect(model.spec.model.url).toEqual({
      sha256: SHA, urlSecretRef: { name: 'model-url', key: 'presigned' }, headersSecretRef: { name: 'model-token' }, caConfigMapRef: { name: 'internal-ca', key: 'ca.crt' },
    });
  });

  it('accepts a public URL whose query or path holds an @', async () => {
    const model = await applyModel(cp.kubeConfig, ns, 'public-url', url({ url: 'https://models.example/team@example.com/m.tar.gz?owner=a@b.example' }));
    expect(model.spec.model.url?.url).toBe('https://models.example/team@example.com/m.tar.gz?owner=a@b.example');
  });
});
