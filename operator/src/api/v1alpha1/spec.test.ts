import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { sentimentModel } from '../../testing/fixtures.js';
import { IMAGE_PATTERNS } from './kube-schema.js';
import { SentimentModelSpec, URL_USERINFO } from './spec.js';

// CEL itself is checked against a real apiserver by the integration suite; here the regexes
// inside the image rules and the plain-schema bounds are tested directly.
const matches = (pattern: string, s: string) => new RegExp(pattern).test(s);
const imageAccepted = (ref: string) =>
  !matches(IMAGE_PATTERNS.latestTag, ref) &&
  (ref.includes('@') || matches(IMAGE_PATTERNS.tagged, ref)) &&
  (!ref.includes('@') || matches(IMAGE_PATTERNS.digest, ref));

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
  ])('rejects %s', (_name, patch) => {
    expect(check(patch)).toBe(false);
  });

  it.each<[string, (s: SentimentModelSpec) => void]>([
    ['a MIG profile', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/mig-1g.10gb' })],
    ['a MIG profile with media extensions', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/mig-1g.10gb+me' })],
    ['a time-sliced GPU', (s) => void Object.assign(s.resources.gpu, { count: 1, resourceName: 'nvidia.com/gpu.shared' })],
    ['quantities', (s) => void (s.resources.limits = { cpu: '1500m', memory: '2Gi' })],
  ])('accepts %s', (_name, patch) => {
    expect(check(patch)).toBe(true);
  });
});
