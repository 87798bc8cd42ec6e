import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { sentimentModel } from '../../testing/fixtures.js';
import { IMAGE_PATTERNS, LABEL_VALUE, QUALIFIED_NAME, URL_PATTERNS } from './kube-schema.js';
import { SentimentModelSpec, URL_USERINFO } from './spec.js';

// CEL itself is checked against a real apiserver by the integration suite; here the regexes
// inside the image rules and the plain-schema bounds are tested directly.
const matches = (pattern: string, s: string) => new RegExp(pattern).test(s);
const imageAccepted = (ref: string) =>
  !matches(IMAGE_PATTERNS.latestTag, ref) &&
  (ref.includes('@') || matches(IMAGE_PATTERNS.tagged, ref)) &&
  (!ref.includes('@') || matches(IMAGE_PATTERNS.digest, ref)) &&
  matches(IMAGE_PATTERNS.reference, ref);

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('image reference rules', () => {
  it.each([
    ['ghcr.io/example/runtime:1.2.3', true],
    ['runtime:v1', true],
    ['localhost:5000/team/runtime:2024-01-01', true],
    [`ghcr.io/example/runtime@${DIGEST}`, true],
    [`ghcr.io/example/runtime:1.2.3@${DIGEST}`, true],
    ['runtime:latest-gpu', true],
    ['ghcr.io/example/runtime:latest', false],
    [`ghcr.io/example/runtime:latest@${DIGEST}`, false],
    ['ghcr.io/example/runtime', false],
    ['localhost:5000/runtime', false],
    ['ghcr.io/example/runtime@sha256:abc', false],
    [`ghcr.io/example/runtime@md5:${'a'.repeat(64)}`, false],
    ['ghcr.io/Example/runtime:1.2.3', false],
    ['ghcr.io/example/Runtime:1.2.3', false],
    ['Registry.Example.com:5000/example/runtime:1.2.3', true],
    ['ghcr.io//runtime:1.2.3', false],
    ['ghcr.io/example/runtime-:1.2.3', false],
    ['ghcr.io/example/my__runtime.v2:1.2.3', true],
  ])('%s accepted: %s', (ref, ok) => {
    expect(imageAccepted(ref)).toBe(ok);
  });
});

describe('model URL userinfo rule', () => {
  it.each([
    ['https://user:hunter2@models.example/m.tar.gz', true],
    ['https://token@models.example/m.tar.gz', true],
    ['https://:pw@models.example:8443/m.tar.gz', true],
    ['https://models.example/m.tar.gz', false],
    ['https://models.example/user@host/m.tar.gz', false],
    ['https://models.example/m.tar.gz?owner=a@b.example', false],
    ['https://models.example/m.tar.gz#a@b', false],
  ])('%s holds credentials: %s', (url, refused) => {
    expect(matches(URL_USERINFO, url)).toBe(refused);
    expect(Boolean(new URL(url).username || new URL(url).password)).toBe(refused);
  });
});

describe('label syntax', () => {
  it.each([
    ['dedicated', true],
    ['nvidia.com/gpu', true],
    ['node-role.kubernetes.io/control-plane', true],
    ['topology.kubernetes.io/zone', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['has space', false],
    ['-leading', false],
    ['Upper.Case/name', false],
    ['/name', false],
    ['prefix/', false],
  ])('key %s valid: %s', (key, ok) => {
    expect(matches(QUALIFIED_NAME, key)).toBe(ok);
  });

  it.each([['', true], ['ml', true], ['NVIDIA-H100-80GB-HBM3', true], ['a'.repeat(63), true], ['a'.repeat(64), false], ['two words', false], ['trailing-', false]])(
    'value %j valid: %s',
    (value, ok) => {
      expect(matches(LABEL_VALUE, value)).toBe(ok);
    },
  );
});

describe('model URL host patterns', () => {
  it.each<[string, 'name or IPv4' | 'IPv6' | 'neither']>([
    ['https://models.example.com/m.tgz', 'name or IPv4'],
    ['https://models.example.com.:8443?sig=1', 'name or IPv4'],
    ['https://models', 'name or IPv4'],
    ['https://user@models.example.com/m.tgz', 'name or IPv4'],
    ['https://10.0.0.5/m.tgz', 'name or IPv4'],
    ['https://[2001:db8::5]:8443/m.tgz', 'IPv6'],
    ['https://2852039166/m.tgz', 'neither'],
    ['https://0xa9fea9fe/m.tgz', 'neither'],
    ['https://169.254.43518/m.tgz', 'neither'],
    ['https://256.1.1.1/m.tgz', 'neither'],
    ['https://%31%36%39.254.169.254/m.tgz', 'neither'],
    ['https://models.123/m.tgz', 'neither'],
  ])('%s: %s', (url, kind) => {
    const found = matches(URL_PATTERNS.nameOrIpv4Host, url) ? 'name or IPv4' : matches(URL_PATTERNS.ipv6Host, url) ? 'IPv6' : 'neither';
    expect(found).toBe(kind);
  });

  it.each([['https://169.254.169.254/m', true], ['https://u@169.254.0.1', true], ['https://10.169.254.1/m', false], ['https://169.254x.example/m', false]])(
    '%s is link-local IPv4: %s',
    (url, linkLocal) => {
      expect(matches(URL_PATTERNS.linkLocalIpv4, url)).toBe(linkLocal);
    },
  );
});

describe('SentimentModelSpec defaults', () => {
  it('fills every defaulted field like the apiserver would', () => {
    const { spec } = sentimentModel();
    expect(spec).toMatchObject({
      quantization: 'int8',
      maxSequenceLength: 512,
      replicas: 1,
      model: { image: { path: '/model' } },
      runtime: { executionProvider: 'cpu', intraOpThreads: 0, processes: 1, imagePullPolicy: 'IfNotPresent' },
      batching: { maxBatchSize: 32, maxBatchDelayMs: 2, maxBatchTokens: 8192, maxQueue: 2048 },
      cache: { enabled: true, maxEntries: 10_000, ttlSeconds: 600 },
      resources: { gpu: { count: 0, resourceName: 'nvidia.com/gpu' } },
      autoscaling: { enabled: false, engine: 'builtin', minReplicas: 1, maxReplicas: 10, metric: 'inflight' },
      rollout: { strategy: 'Auto', maxSurge: 1, maxUnavailable: 1, progressDeadlineSeconds: 600 },
      server: { requestTimeoutMs: 30_000, drainDelaySeconds: 5, shutdownTimeoutSeconds: 30 },
    });
  });

  it('defaults list items too', () => {
    const { spec } = sentimentModel({ scheduling: { tolerations: [{ key: 'dedicated', value: 'ml' }] } });
    expect(spec.scheduling.tolerations).toEqual([{ key: 'dedicated', value: 'ml', operator: 'Equal' }]);
  });
});

describe('SentimentModelSpec schema bounds', () => {
  const base = sentimentModel().spec;
  const check = (patch: (s: SentimentModelSpec) => void) => {
    const s = structuredClone(base);
    patch(s);
    return Value.Check(SentimentModelSpec, s);
  };

  it.each<[string, (s: SentimentModelSpec) => void]>([
    ['maxSequenceLength below 8', (s) => void (s.maxSequenceLength = 4)],
    ['maxSequenceLength above 8192', (s) => void (s.maxSequenceLength = 16_384)],
    ['maxBatchSize 0', (s) => void (s.batching.maxBatchSize = 0)],
    ['maxBatchSize above 1024', (s) => void (s.batching.maxBatchSize = 2048)],
    ['maxBatchDelayMs above 1000', (s) => void (s.batching.maxBatchDelayMs = 5000)],
    ['unknown quantization', (s) => void Object.assign(s, { quantization: 'fp8' })],
    ['gpu count above 16', (s) => void (s.resources.gpu.count = 17)],
    ['non-NVIDIA GPU resource', (s) => void (s.resources.gpu.resourceName = 'amd.com/gpu')],
    ['sha256 not hex', (s) => void (s.model = { url: { url: 'https://models.example/m.tgz', sha256: 'z'.repeat(64) } })],
    ['sha256 too short', (s) => void (s.model = { url: { url: 'https://models.example/m.tgz', sha256: 'abc' } })],
    ['cpu quantity malformed', (s) => void (s.resources.limits = { cpu: 'two' })],
    ['relative model path', (s) => void (s.model = { image: { reference: 'm:1', path: 'model' } })],
    ['image with spaces', (s) => void (s.runtime.image = 'runtime: 1')],
    ['a toleration key with spaces', (s) => void (s.scheduling.tolerations = [{ key: 'dedicated node', operator: 'Exists' }])],
    ['a toleration value that is no label value', (s) => void (s.scheduling.tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'm l' }])],
    ['negative tolerationSeconds', (s) => void (s.scheduling.tolerations = [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: -1 }])],
    ['a nodeSelector value with spaces', (s) => void (s.scheduling.nodeSelector = { pool: 'gpu pool' })],
    ['affinity of the wrong type', (s) => void (s.scheduling.affinity = { nodeAffinity: 'gpu' } as never)],
    ['empty nodeSelectorTerms', (s) => void (s.scheduling.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } })],
    ['an unknown node selector operator', (s) => void (s.scheduling.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Like' as never }] }] } } })],
    ['a preference weight of 0', (s) => void (s.scheduling.affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }] } })],
    ['a pod affinity term without topologyKey', (s) => void (s.scheduling.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: {} } as never] } })],
  ])('rejects %s', (_name, patch) => {
    expect(check(patch)).toBe(false);
  });

  it.each<[string, (s: SentimentModelSpec) => void]>([
    ['a MIG profile', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/mig-1g.10gb' })],
    ['a MIG profile with media extensions', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/mig-1g.10gb+me' })],
    ['a time-sliced GPU', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/gpu.shared' })],
    ['quantities', (s) => void (s.resources.limits = { cpu: '1500m', memory: '2Gi' })],
    ['a keyed toleration', (s) => void (s.scheduling.tolerations = [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }])],
    ['a spread across zones', (s) => void (s.scheduling.affinity = {
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { app: 'sst2' } } } }] },
    })],
  ])('accepts %s', (_name, patch) => {
    expect(check(patch)).toBe(true);
  });
});
