import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import { RuntimeConfig } from '#contract/runtime-config.js';
import { Batching, Cache, Runtime, SentimentModelSpec, Server } from '../../api/v1alpha1/index.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { makeConfigMap, renderRuntimeConfig, runtimeConfig } from './configmap.js';

const DIGEST = `sha256:${'b'.repeat(64)}`;

describe('runtime config', () => {
  it.each([
    ['defaults', sentimentModel()],
    ['GPU fp16 with labels', sentimentModel({ quantization: 'fp16', labels: ['neg', 'pos'], runtime: { executionProvider: 'cuda' }, resources: { gpu: { count: 1 } } })],
    ['URL source, tuned batching', sentimentModel({ model: { url: { url: 'https://m.example/a.tgz', sha256: 'c'.repeat(64) } }, batching: { maxBatchSize: 128, maxBatchDelayMs: 0.5 } })],
    ['PVC source, no cache', sentimentModel({ model: { pvc: { claimName: 'models' } }, cache: { enabled: false } })],
  ])('is a valid RuntimeConfig (%s), also after a YAML round trip', (_name, model) => {
    const config = runtimeConfig(model, '/models/model');
    expect([...Value.Errors(RuntimeConfig, config)]).toEqual([]);
    expect(Value.Check(RuntimeConfig, parse(renderRuntimeConfig(config)))).toBe(true);
  });

  it.each(['minimum', 'maximum'] as const)('is a valid RuntimeConfig with every numeric field of the spec at its %s', (bound) => {
    const at = (schema: { properties: Record<string, object> }) =>
      Object.fromEntries(Object.entries(schema.properties).flatMap(([key, field]) => (bound in field ? [[key, (field as Record<typeof bound, number>)[bound]]] : [])));
    const model = sentimentModel({ ...at(SentimentModelSpec), runtime: at(Runtime), batching: at(Batching), cache: at(Cache), server: at(Server) });
    expect(model.spec.batching).toEqual(at(Batching));
    expect([...Value.Errors(RuntimeConfig, runtimeConfig(model, '/models/model'))]).toEqual([]);
  });

  it('carries the spec into the runtime settings', () => {
    const model = sentimentModel({
      quantization: 'none',
      maxSequenceLength: 256,
      labels: ['negative', 'positive'],
      batching: { maxBatchSize: 64, maxBatchTokens: 4096 },
      cache: { ttlSeconds: 60 },
      server: { requestTimeoutMs: 5000, drainDelaySeconds: 7, shutdownTimeoutSeconds: 20 },
    });
    const config = runtimeConfig(model, '/models/model');
    expect(config.model).toEqual({
      path: '/models/model',
      name: 'demo',
      revision: '1.0.0',
      quantization: 'none',
      maxSequenceLength: 256,
      labels: ['negative', 'positive'],
    });
    expect(config.batching).toMatchObject({ maxBatchSize: 64, maxBatchTokens: 4096 });
    expect(config.cache.ttlSeconds).toBe(60);
    // The preStop sleep does the drain delay, so the runtime must not wait a second time.
    expect(config.server).toMatchObject({ port: 8080, probePort: 8081, requestTimeoutMs: 5000, drainDelayMs: 0, shutdownTimeoutMs: 20_000 });
  });

  it('turns the playground off unless the spec asks, and points auth at the mounted Secret, never its content', () => {
    const plain = runtimeConfig(sentimentModel(), '/m');
    expect([plain.server.playground, plain.auth]).toEqual([false, { metrics: false }]);
    expect(runtimeConfig(sentimentModel({ server: { playground: true } }), '/m').server.playground).toBe(true);
    const secured = runtimeConfig(sentimentModel({ server: { auth: { tokenSecretRef: { name: 'reviews-token', key: 'token' }, metrics: true } } }), '/m');
    expect(secured.auth).toEqual({ tokenFile: '/etc/sentiment-runtime-auth/token', metrics: true });
    expect(renderRuntimeConfig(secured)).not.toContain('reviews-token');
  });

  it.each([
    [{ image: { reference: `ghcr.io/m/sst2@${DIGEST}` } }, 'sha256:bbbbbbbbbbbb'],
    [{ image: { reference: 'localhost:5000/m/sst2:2024.1' } }, '2024.1'],
    [{ url: { url: 'https://m.example/a.tgz', sha256: 'c'.repeat(64) } }, 'sha256:cccccccccccc'],
    [{ pvc: { claimName: 'models' } }, 'pvc:models'],
  ])('derives the model revision from %j', (source, revision) => {
    expect(runtimeConfig(sentimentModel({ model: source }), '/m').model.revision).toBe(revision);
  });

  it.each([
    [{}, 0, 0],
    [{ limits: { cpu: '4' } }, 4, 2],
    [{ limits: { cpu: '16' } }, 4, 8],
    [{ requests: { cpu: '2500m' } }, 2, 2],
    [{ requests: { cpu: '250m' } }, 1, 1],
    [{ requests: { cpu: '1' }, limits: { cpu: '3' } }, 3, 2],
  ])('turns the CPU quota %j into %d sessions of %d onnxruntime threads (none: the runtime derives them)', (resources, sessions, threads) => {
    expect(runtimeConfig(sentimentModel({ resources }), '/m').session).toMatchObject({ sessions, intraOpThreads: threads });
  });

  it('keeps an explicit thread count and fits sessions of it into the quota', () => {
    const two = sentimentModel({ runtime: { intraOpThreads: 6 }, resources: { limits: { cpu: '2' } } });
    expect(runtimeConfig(two, '/m').session).toMatchObject({ sessions: 1, intraOpThreads: 6 });
    const twelve = sentimentModel({ runtime: { intraOpThreads: 6 }, resources: { limits: { cpu: '12' } } });
    expect(runtimeConfig(twelve, '/m').session).toMatchObject({ sessions: 2, intraOpThreads: 6 });
  });

  it('runs the serving processes the spec asks for, splitting the CPU quota among them', () => {
    const model = sentimentModel({ runtime: { processes: 4 }, resources: { limits: { cpu: '8' } } });
    const config = runtimeConfig(model, '/m');
    expect(config.server.processes).toBe(4);
    expect(config.session).toMatchObject({ sessions: 2, intraOpThreads: 2 });
    expect(runtimeConfig(sentimentModel({ runtime: { processes: 4 }, resources: { limits: { cpu: '2' } } }), '/m').session).toMatchObject({ sessions: 1, intraOpThreads: 1 });
    expect(runtimeConfig(sentimentModel({}), '/m').server.processes).toBe(1);
  });

  it('selects the CUDA provider for GPU models', () => {
    const model = sentimentModel({ runtime: { executionProvider: 'cuda' }, resources: { gpu: { count: 1 } } });
    expect(runtimeConfig(model, '/m').session).toMatchObject({ executionProvider: 'cuda', cudaDeviceId: 0, sessions: 1 });
  });
});

describe('makeConfigMap', () => {
  it('stores the rendered config as config.yaml, owned by the model', () => {
    const model = sentimentModel();
    const cm = makeConfigMap(model, 'a: 1\n');
    expect(cm).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-runtime-config', namespace: 'ml' }, data: { 'config.yaml': 'a: 1\n' } });
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'SentimentModel', controller: true });
  });
});
