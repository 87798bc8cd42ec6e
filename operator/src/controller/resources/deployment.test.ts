import { describe, expect, it } from 'vitest';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { RUNTIME_IMAGE, sentimentModel } from '../../testing/fixtures.js';
import type { RolloutChoice, SentimentModel } from '../../api/v1alpha1/index.js';
import { desiredDraft, withStrategy } from './desired.js';
import type { ClusterFacts } from './facts.js';
import { runtimeConfig } from './configmap.js';
import { deploymentForCache, rollingUpdate, templateHashOf } from './deployment.js';

const facts: ClusterFacts = { imageVolumes: false, clusterDomain: 'cluster.local' };
const deploymentOf = (model: SentimentModel, f: Partial<ClusterFacts> = {}, strategy: RolloutChoice['strategy'] = 'Surge'): V1Deployment =>
  withStrategy(model, desiredDraft(model, { ...facts, ...f }), strategy).deployment;
const podSpec = (d: V1Deployment) => d.spec!.template.spec!;
const runtimeOf = (d: V1Deployment) => podSpec(d).containers[0]!;
const GPU = { runtime: { executionProvider: 'cuda' as const }, resources: { gpu: { count: 1 } } };

describe('makeDeployment: runtime container', () => {
  const d = deploymentOf(sentimentModel({ replicas: 3 }));
  const c = runtimeOf(d);

  it('runs the runtime image with the mounted config', () => {
    expect(c).toMatchObject({
      name: 'runtime',
      image: RUNTIME_IMAGE,
      workingDir: '/app',
      command: ['node', 'dist/runtime/src/main.js', 'serve', '--config', '/etc/sentiment-runtime/config.yaml'],
      ports: [
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'probe', containerPort: 8081, protocol: 'TCP' },
      ],
    });
    expect(c.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/sentiment-runtime', readOnly: true });
    expect(podSpec(d).volumes).toContainEqual({ name: 'config', configMap: { name: 'demo-runtime-config' } });
  });

  it('mounts no token without spec.server.auth', () => {
    expect(podSpec(d).volumes?.map((volume) => volume.name)).not.toContain('auth-token');
  });

  it('mounts the auth token Secret as a directory (so the kubelet updates it), and rotating it rolls nothing', () => {
    const secured = (name: string) => deploymentOf(sentimentModel({ server: { auth: { tokenSecretRef: { name, key: 'bearer' } } } }));
    const withAuth = secured('reviews-token');
    expect(podSpec(withAuth).volumes).toContainEqual({ name: 'auth-token', secret: { secretName: 'reviews-token', items: [{ key: 'bearer', path: 'token' }], defaultMode: 0o440 } });
    expect(runtimeOf(withAuth).volumeMounts).toContainEqual({ name: 'auth-token', mountPath: '/etc/sentiment-runtime-auth', readOnly: true });
    expect(runtimeOf(withAuth).volumeMounts?.find((mount) => mount.name === 'auth-token')?.subPath).toBeUndefined();
    // Another Secret is another pod template; the same Secret with new content is the same one.
    expect(templateHashOf(secured('other-token'))).not.toBe(templateHashOf(withAuth));
    expect(templateHashOf(secured('reviews-token'))).toBe(templateHashOf(withAuth));
  });

  it('mounts every Secret (token, fetch headers, Kafka TLS) readable by the pod group only', () => {
    const model = sentimentModel({
      model: { url: { url: 'https://models.example/m.tar.gz', sha256: 'a'.repeat(64), headersSecretRef: { name: 'model-token' } } },
      server: { auth: { tokenSecretRef: { name: 'reviews-token', key: 'token' } } },
      stream: { kafka: { bootstrapServers: ['kafka:9093'], inputTopic: 'in', outputTopic: 'out', tls: { caSecret: { name: 'kafka-ca' }, clientCertificateSecret: { name: 'kafka-client' } } } },
    });
    const secretVolumes = podSpec(deploymentOf(model)).volumes!.filter((volume) => volume.secret);
    expect(secretVolumes.map((volume) => [volume.name, volume.secret!.defaultMode])).toEqual([
      ['model-headers', 0o440],
      ['auth-token', 0o440],
      ['kafka-ca', 0o440],
      ['kafka-client', 0o440],
    ]);
  });

  it('probes /readyz for startup and readiness and /healthz for liveness, on the probe port the runtime config opens', () => {
    expect(c.startupProbe?.httpGet).toEqual({ path: '/readyz', port: 'probe' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'probe' });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'probe' });
    const probePort = c.ports?.find((port) => port.name === 'probe')?.containerPort;
    expect(runtimeConfig(sentimentModel(), '/m').server.probePort).toBe(probePort);
  });

  it('takes replicas, selector, labels and owner from the model', () => {
    expect(d.spec).toMatchObject({ replicas: 3, selector: { matchLabels: { 'serving.sentiment.dev/model': 'demo' } }, progressDeadlineSeconds: 600 });
    expect(d.spec?.template.metadata?.labels).toMatchObject(d.spec!.selector.matchLabels!);
    expect(d.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'SentimentModel', uid: 'uid-demo', controller: true, blockOwnerDeletion: true })]);
  });
});

describe('makeDeployment: security', () => {
  const model = sentimentModel({ model: { url: { url: 'https://m.example/a.tgz', sha256: 'a'.repeat(64) } } });
  const spec = podSpec(deploymentOf(model));
  const containers: V1Container[] = [...spec.containers, ...(spec.initContainers ?? [])];

  it('runs the pod as the non-root user with the RuntimeDefault seccomp profile', () => {
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it.each(containers.map((c) => [c.name, c] as const))('lets container %s report why it failed, from its logs if it wrote no termination message', (_name, c) => {
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it.each(containers.map((c) => [c.name, c] as const))('restricts container %s', (_name, c) => {
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('gives a writable /tmp since the root filesystem is read-only', () => {
    expect(spec.volumes).toContainEqual({ name: 'tmp', emptyDir: {} });
    expect(spec.containers[0]!.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });
});

describe('makeDeployment: GPU and CPU placement', () => {
  it.each([
    ['CPU only', {}, undefined, undefined, undefined],
    ['one GPU', GPU, { 'nvidia.com/gpu': '1' }, undefined, 'nvidia.com/gpu'],
    ['a MIG slice', { ...GPU, resources: { gpu: { count: 1, resourceName: 'nvidia.com/mig-1g.10gb' } } }, { 'nvidia.com/mig-1g.10gb': '1' }, undefined, 'nvidia.com/gpu'],
    ['a GPU product', { ...GPU, resources: { gpu: { count: 2, product: 'NVIDIA-H100-80GB-HBM3' } } }, { 'nvidia.com/gpu': '2' }, 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu'],
  ])('%s', (_name, spec, gpuLimits, product, tolerationKey) => {
    const pod = podSpec(deploymentOf(sentimentModel(spec)));
    const limits = pod.containers[0]!.resources?.limits;
    if (gpuLimits) expect(limits).toMatchObject(gpuLimits);
    else expect(Object.keys(limits ?? {}).filter((k) => k.startsWith('nvidia.com/'))).toEqual([]);
    expect(pod.nodeSelector?.['nvidia.com/gpu.product']).toBe(product);
    expect(pod.tolerations?.find((t) => t.key === 'nvidia.com/gpu')).toEqual(tolerationKey ? { key: tolerationKey, operator: 'Exists', effect: 'NoSchedule' } : undefined);
  });

  it('passes CPU and memory through and keeps user scheduling next to the GPU additions', () => {
    const model = sentimentModel({
      ...GPU,
      resources: { gpu: { count: 1, product: 'NVIDIA-L4' }, requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '4Gi' } },
      scheduling: {
        nodeSelector: { pool: 'inference' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }],
        priorityClassName: 'high',
        runtimeClassName: 'nvidia',
        affinity: { nodeAffinity: {} },
      },
    });
    const pod = podSpec(deploymentOf(model));
    expect(pod.containers[0]!.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '4Gi', 'nvidia.com/gpu': '1' } });
    expect(pod.nodeSelector).toEqual({ pool: 'inference', 'nvidia.com/gpu.product': 'NVIDIA-L4' });
    expect(pod.tolerations).toHaveLength(2);
    expect(pod).toMatchObject({ priorityClassName: 'high', runtimeClassName: 'nvidia', affinity: { nodeAffinity: {} } });
  });

  it('leaves optional scheduling fields out rather than empty', () => {
    const pod = podSpec(deploymentOf(sentimentModel(), { imageVolumes: true }));
    for (const key of ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName', 'runtimeClassName', 'initContainers'] as const) {
      expect(pod, key).not.toHaveProperty(key);
    }
  });
});

describe('makeDeployment: model delivery', () => {
  const image = { image: { reference: 'ghcr.io/m/sst2:1.0.0', path: '/model/' } };

  it('mounts the model image as an image volume where the cluster supports it', () => {
    const pod = podSpec(deploymentOf(sentimentModel({ model: image }), { imageVolumes: true }));
    expect(pod.volumes).toContainEqual({ name: 'model', image: { reference: 'ghcr.io/m/sst2:1.0.0', pullPolicy: 'IfNotPresent' } });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'model', mountPath: '/models', readOnly: true });
    expect(pod.initContainers).toBeUndefined();
  });

  it('otherwise copies the model out of its image in an init container', () => {
    const pod = podSpec(deploymentOf(sentimentModel({ model: image, resources: { limits: { cpu: '1', memory: '1Gi' } } })));
    expect(pod.volumes).toContainEqual({ name: 'model', emptyDir: {} });
    expect(pod.initContainers).toEqual([
      expect.objectContaining({
        name: 'model-copy',
        image: 'ghcr.io/m/sst2:1.0.0',
        command: ['cp', '-R', '/model/.', '/models/model'],
        resources: { limits: { cpu: '1', memory: '1Gi' } },
      }),
    ]);
  });

  it('mounts a PVC with its read-only setting', () => {
    const pod = podSpec(deploymentOf(sentimentModel({ model: { pvc: { claimName: 'models', path: '/sst2', readOnly: false } } })));
    expect(pod.volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName: 'models', readOnly: false } });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'model', mountPath: '/models', readOnly: false });
  });

  it('downloads a URL with the runtime image fetch command, checking sha256', () => {
    const sha256 = 'd'.repeat(64);
    const pod = podSpec(deploymentOf(sentimentModel({ model: { url: { url: 'https://m.example/a.tgz', sha256 } }, ...GPU })));
    const fetch = pod.initContainers?.[0];
    expect(fetch).toMatchObject({
      name: 'model-fetch',
      image: RUNTIME_IMAGE,
      workingDir: '/app',
      command: ['node', 'dist/runtime/src/main.js', 'fetch', '--sha256', sha256, '--dest', '/models/model'],
      env: [{ name: 'SENTIMENT_FETCH_URL', value: 'https://m.example/a.tgz' }],
    });
    // The download needs no GPU; only the serving container asks for one.
    expect(fetch?.resources?.limits).toBeUndefined();
  });
});

describe('makeDeployment: shutdown and rollout', () => {
  it('sleeps in preStop for the drain delay and grants grace for drain plus shutdown', () => {
    const d = deploymentOf(sentimentModel({ server: { drainDelaySeconds: 10, shutdownTimeoutSeconds: 40, requestTimeoutMs: 1000 } }));
    expect(runtimeOf(d).lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
    expect(podSpec(d).terminationGracePeriodSeconds).toBe(55);
  });

  it('omits preStop when there is no drain delay', () => {
    expect(runtimeOf(deploymentOf(sentimentModel({ server: { drainDelaySeconds: 0 } }))).lifecycle).toBeUndefined();
  });

  it.each([
    ['Surge', { maxSurge: 2, maxUnavailable: 0 }],
    ['Replace', { maxSurge: 0, maxUnavailable: 3 }],
  ] as const)('strategy %s rolls with %j', (strategy, expected) => {
    const rollout = { strategy: 'Auto' as const, maxSurge: 2, maxUnavailable: 3, progressDeadlineSeconds: 600 };
    expect(rollingUpdate(rollout, strategy)).toEqual(expected);
  });

  it('applies the chosen strategy to the Deployment', () => {
    const d = deploymentOf(sentimentModel({ rollout: { strategy: 'Auto' } }), {}, 'Replace');
    expect(d.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  });

  it('records the revision on the pod template, outside the template hash', () => {
    const annotations = (m: SentimentModel) => deploymentOf(m).spec?.template.metadata?.annotations;
    expect(annotations(sentimentModel({ quantization: 'none' }))).toEqual({
      'serving.sentiment.dev/template-hash': expect.stringMatching(/^[a-f0-9]{64}$/),
      'serving.sentiment.dev/model-source': 'ghcr.io/example/sst2-model:1.0.0',
      'serving.sentiment.dev/runtime-image': RUNTIME_IMAGE,
      'serving.sentiment.dev/quantization': 'none',
    });
    expect(annotations(sentimentModel({ model: { pvc: { claimName: 'models', path: '/sst2' } } }))?.['serving.sentiment.dev/model-source']).toBe('pvc:models/sst2');
  });
});

describe('deploymentForCache', () => {
  it('keeps what the controller reads and drops the pod template', () => {
    const desired = deploymentOf(sentimentModel(), {}, 'Replace');
    const status = { observedGeneration: 1, replicas: 1, readyReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] };
    const cached = deploymentForCache({ ...desired, status });
    expect(templateHashOf(cached)).toBe(templateHashOf(desired));
    expect(templateHashOf(cached)).not.toBe('');
    expect(cached).toEqual({
      metadata: desired.metadata,
      spec: { replicas: 1, selector: desired.spec?.selector, strategy: desired.spec?.strategy, template: { metadata: { annotations: desired.spec?.template.metadata?.annotations } } },
      status,
    });
  });
});
