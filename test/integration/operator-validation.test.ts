// The CRD's schema and CEL rules on a real apiserver: bad SentimentModels never reach the operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../support/controlplane.js';
import { applyObject, errorText } from '../support/kube.js';
import { startControlPlane } from '../support/controlplane.js';
import { applyModel, modelManifest, MODEL_IMAGE, RUNTIME_IMAGE } from '../support/operator.js';

const ns = 'default';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const cuda = (gpu: Record<string, unknown>) => ({ runtime: { image: RUNTIME_IMAGE, executionProvider: 'cuda' }, resources: { gpu } });

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
  ['the builtin autoscaler from zero', { autoscaling: { enabled: true, minReplicas: 0 } }, 'the builtin autoscaler cannot scale from zero'],
  ['negative replicas', { replicas: -1 }, 'spec.replicas in body should be greater than or equal to 0'],
  ['GPUs with the CPU provider', { resources: { gpu: { count: 1 } } }, 'resources.gpu.count >= 1 requires runtime.executionProvider: cuda'],
  ['cuda without a GPU', cuda({ count: 0 }), 'runtime.executionProvider cuda requires resources.gpu.count >= 1'],
  ['a GPU product without GPUs', { resources: { gpu: { product: 'NVIDIA-H100-80GB-HBM3' } } }, 'resources.gpu.product needs resources.gpu.count >= 1'],
  ['two MIG slices', cuda({ count: 2, resourceName: 'nvidia.com/mig-1g.10gb' }), 'with a MIG resourceName, resources.gpu.count must be at most 1'],
  ['an unknown GPU resource', cuda({ count: 1, resourceName: 'amd.com/gpu' }), 'spec.resources.gpu.resourceName in body should match'],
  ['a CPU request above its limit', { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }, 'resources.requests.cpu must not exceed resources.limits.cpu'],
  ['a malformed quantity', { resources: { requests: { memory: '1 GiB' } } }, 'spec.resources.requests.memory in body should match'],
  ['a toleration Exists with a value', { scheduling: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] } }, 'a toleration with operator Exists must not set value'],
  ['a drain shorter than a request', { server: { requestTimeoutMs: 60_000, shutdownTimeoutSeconds: 10 } }, 'server.shutdownTimeoutSeconds must cover server.requestTimeoutMs'],
  ['a token Secret without a key', { server: { auth: { tokenSecretRef: { name: 'reviews-token' } } } }, 'spec.server.auth.tokenSecretRef.key: Required value'],
  ['/metrics behind the token with the builtin autoscaler', { autoscaling: { enabled: true }, server: { auth: { tokenSecretRef: { name: 'reviews-token', key: 'token' }, metrics: true } } }, 'server.auth.metrics closes /metrics to the builtin autoscaler'],
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
});
