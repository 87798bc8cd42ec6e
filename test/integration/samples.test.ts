// Samples and docs. Every manifest in config/samples/ applied as a user would apply it, to a real
// control plane with CPU nodes, an H100 node and a MIG node (kwok), in a namespace that enforces Pod
// Security "restricted": each SentimentModel reaches Ready=True through the operator, and its pods
// land where the sample says. Nothing is pulled or fetched: kwok runs no containers.
// And docs/api.md is the reference `npm run docs:api` generates from the API source.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { API_VERSION, KIND, type SentimentModelSpec } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane, cpuNode, gpuNode, type ControlPlane } from '../support/controlplane.js';
import { applyObject, createNamespace, isPodReady, listPods, readObject, waitFor } from '../support/kube.js';
import { isReady, startOperator, waitForModels, type RunningOperator } from '../support/operator.js';
import { repoRoot } from '../support/runtime.js';
import { API_DOC_FILE, renderApiReference } from '../../hack/gen-api-docs.js';

const ns = 'samples';
const samplesDir = join(repoRoot, 'config', 'samples');

type Manifest = KubernetesObject & { metadata: { name: string; namespace?: string }; spec?: unknown };
type Model = Manifest & { spec: SentimentModelSpec };

const samples = readdirSync(samplesDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((file) => ({
  file,
  objects: parseAllDocuments(readFileSync(join(samplesDir, file), 'utf8')).map((d) => d.toJS() as Manifest | null).filter((o): o is Manifest => o !== null),
}));
const models = samples.flatMap((s) => s.objects.filter((o): o is Model => o.apiVersion === API_VERSION && o.kind === KIND));
const claims = samples.flatMap((s) => s.objects.filter((o): o is Manifest & V1PersistentVolumeClaim => o.kind === 'PersistentVolumeClaim'));
const sample = (file: string): Model => {
  const model = samples.find((s) => s.file === file)?.objects.find((o): o is Model => o.kind === KIND);
  if (!model) throw new Error(`config/samples/${file} has no SentimentModel`);
  return model;
};

/**
 * A statically provisioned volume pre-bound to the sample's claim, as an administrator would create
 * for an NFS share: the test cluster has no provisioner, so this is what makes the claim Bound.
 */
function volumeFor(claim: V1PersistentVolumeClaim): V1PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${ns}-${claim.metadata?.name}` },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
      accessModes: claim.spec?.accessModes,
      storageClassName: claim.spec?.storageClassName,
      persistentVolumeReclaimPolicy: 'Retain',
      nfs: { server: 'nfs.storage.svc.cluster.local', path: '/exports/sentiment-models', readOnly: true },
      claimRef: { namespace: ns, name: claim.metadata?.name },
    },
  };
}

describe('config/samples', () => {
  it('holds the eight kinds of sample, each with a SentimentModel', () => {
    expect(samples.map((s) => s.file)).toEqual(['autoscaled.yaml', 'canary.yaml', 'english-cpu-int8.yaml', 'gpu-fp16.yaml', 'gpu-mig.yaml', 'pvc.yaml', 'stream-kafka.yaml', 'url.yaml']);
    for (const s of samples) expect(s.objects.filter((o) => o.kind === KIND), s.file).toHaveLength(1);
    expect(new Set(models.map((m) => m.metadata.name)).size).toBe(models.length);
  });

  it('pins every image by a version tag or digest, never latest, and sets no namespace', () => {
    for (const m of models) {
      const images = [m.spec.runtime.image, m.spec.model.image?.reference].filter((i): i is string => i !== undefined);
      for (const image of images) expect(image, m.metadata.name).toMatch(/^[^@:]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]{64})?$/);
      for (const image of images) expect(image, m.metadata.name).not.toMatch(/:latest(@|$)/);
    }
    for (const o of samples.flatMap((s) => s.objects)) expect(o.metadata.namespace, o.metadata.name).toBeUndefined();
  });
});

describe('config/samples applied to a cluster', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  const pods = async (model: string): Promise<V1Pod[]> => listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${model}`);

  beforeAll(async () => {
    cp = await startControlPlane({
      scheduler: true, controllerManager: true,
      nodes: [
        cpuNode('cpu-1'), cpuNode('cpu-2'),
        gpuNode('gpu-h100', { gpus: 2, product: 'NVIDIA-H100-80GB-HBM3' }),
        gpuNode('gpu-mig', { gpus: 0, product: 'NVIDIA-A100-SXM4-80GB', mig: { '1g.10gb': 7 } }),
      ],
    });
    await createNamespace(cp.kubeConfig, ns, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    for (const claim of claims) await applyObject(cp.kubeConfig, volumeFor(claim));
    // kwok pods have no process behind their IPs. Scraping those addresses would only time out, so
    // the autoscaler sees no address for any pod (metrics unavailable) and holds the autoscaled
    // sample at its minimum, which is what a freshly applied model does before it has traffic.
    op = await startOperator(cp.kubeConfig, {}, { podAddress: () => undefined });
    for (const object of samples.flatMap((s) => s.objects)) {
      await applyObject(cp.kubeConfig, { ...object, metadata: { ...object.metadata, namespace: ns } });
    }
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('every SentimentModel reaches Ready=True with all its replicas ready', async () => {
    // An autoscaled model starts at one replica; the autoscaler then brings it up to its minimum.
    const want = (name: string) => {
      const spec = models.find((m) => m.metadata.name === name)?.spec;
      return spec?.autoscaling?.enabled ? spec.autoscaling.minReplicas : spec?.replicas ?? 1;
    };
    await waitForModels(cp.kubeConfig, ns, models.map((m) => m.metadata.name), (m) => isReady(m) && m.status?.readyReplicas === want(m.metadata.name), 90_000);
    for (const m of models) expect((await pods(m.metadata.name)).filter(isPodReady).length, m.metadata.name).toBe(want(m.metadata.name));
  }, 120_000);

  it('english-cpu-int8: CPU pods on CPU nodes, copying the model image in', async () => {
    const model = sample('english-cpu-int8.yaml');
    for (const pod of await pods(model.metadata.name)) {
      expect(pod.spec?.nodeName).toMatch(/^cpu-/);
      expect(pod.spec?.initContainers?.[0]?.image).toBe(model.spec.model.image?.reference);
      expect(pod.spec?.containers[0]?.image).toBe(model.spec.runtime.image);
    }
  });

  it('gpu-fp16: one whole GPU on a node of the selected product', async () => {
    const model = sample('gpu-fp16.yaml');
    const [pod, ...rest] = await pods(model.metadata.name);
    expect(rest).toEqual([]);
    expect(pod?.spec?.nodeName).toBe('gpu-h100');
    expect(pod?.spec?.nodeSelector).toEqual({ 'nvidia.com/gpu.product': model.spec.resources.gpu.product });
    expect(pod?.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
  });

  it('gpu-mig: one MIG slice each, on the MIG node', async () => {
    const model = sample('gpu-mig.yaml');
    const list = await pods(model.metadata.name);
    expect(list.length).toBe(model.spec.replicas);
    for (const pod of list) {
      expect(pod.spec?.nodeName).toBe('gpu-mig');
      expect(pod.spec?.containers[0]?.resources?.limits).toMatchObject({ 'nvidia.com/mig-1g.10gb': '1' });
      expect(pod.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    }
  });

  it('pvc: the claim is Bound and mounted read-only', async () => {
    const model = sample('pvc.yaml');
    const claimName = model.spec.model.pvc?.claimName ?? '';
    const claim = await waitFor(async () => {
      const c = await readObject<V1PersistentVolumeClaim>(cp.kubeConfig, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: claimName, namespace: ns });
      return c?.status?.phase === 'Bound' ? c : undefined;
    }, 10_000, `claim ${claimName} not Bound`);
    expect(claim.spec?.volumeName).toBe(`${ns}-${claimName}`);
    for (const pod of await pods(model.metadata.name)) {
      expect(pod.spec?.volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName, readOnly: true } });
    }
  });

  it('stream-kafka: SASL credentials reach the pods by Secret reference, the CA on a Secret volume, never in the ConfigMap', async () => {
    const model = sample('stream-kafka.yaml');
    const list = await pods(model.metadata.name);
    expect(list.length).toBe(model.spec.replicas);
    for (const pod of list) {
      const env = pod.spec?.containers[0]?.env ?? [];
      expect(env.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name, e.value])).toEqual([
        ['SENTIMENT_STREAM_SASL_USERNAME', 'kafka-sentiment-user', undefined],
        ['SENTIMENT_STREAM_SASL_PASSWORD', 'kafka-sentiment-user', undefined],
      ]);
      expect(pod.spec?.volumes?.find((v) => v.name === 'kafka-ca')?.secret?.secretName).toBe('kafka-ca');
    }
  });

  it('url: each pod fetches the archive and checks its sha256 before the runtime starts', async () => {
    const model = sample('url.yaml');
    const url = model.spec.model.url!;
    for (const pod of await pods(model.metadata.name)) {
      const [init] = pod.spec?.initContainers ?? [];
      expect(init?.image).toBe(model.spec.runtime.image);
      expect(init?.command).toEqual(expect.arrayContaining(['fetch', '--sha256', url.sha256]));
      expect(init?.env).toContainEqual({ name: 'SENTIMENT_FETCH_URL', value: url.url });
    }
  });
});

describe('docs/api.md', () => {
  it('is the reference generated from operator/src/api/v1alpha1 (run `npm run docs:api` after changing the API)', () => {
    expect(readFileSync(join(repoRoot, API_DOC_FILE), 'utf8')).toBe(renderApiReference());
  });
});

describe('README', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = (heading: string) => readme.split(/^### /m).find((s) => s.startsWith(`${heading}\n`)) ?? '';

  it('the GitOps example leaves replicas to the autoscaler, as config/samples/autoscaled.yaml (applied above) writes it', () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section('Bump a version through GitOps'))?.[1];
    expect(yaml, 'a yaml block in "Bump a version through GitOps"').toBeDefined();
    const example = parseAllDocuments(yaml!)[0]!.toJS() as Model;
    // A pinned spec.replicas would be reset by every sync, undoing `kubectl scale` and the autoscaler.
    expect(example.spec).not.toHaveProperty('replicas');
    expect(example.spec.autoscaling.enabled).toBe(true);
    expect(sample('autoscaled.yaml').spec).toMatchObject(example.spec);
  });
});
