// End to end on a real cluster, with nothing from a registry but k3s itself and the base images:
// build the operator, runtime and model images from this checkout, import them into k3s, install
// the operator with the Helm chart, apply the English CPU sample, call its Service from another pod,
// then bump the model version and watch the rollout while that pod keeps calling.
// Run with `npm run test:e2e` on a machine with a container engine (Docker, or Podman's socket).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { applyObject, createNamespace, deploymentAvailable, listPods, readDeployment, waitFor } from '../support/kube.js';
import { condition, isReady, recordStatuses, waitForModel } from '../support/operator.js';
import { repoRoot, type Json } from '../support/runtime.js';
import { installChart, RELEASE_NAMESPACE, startCluster, type Cluster } from './cluster.js';
import { buildImage, IMAGES, stageBuildContext } from './images.js';

const ns = 'demo';
const SAMPLE = join(repoRoot, 'config', 'samples', 'english-cpu-int8.yaml');
const V1 = '1.0.0';
const V2 = '1.0.1';
const revisionOf = (version: string) => `${version}-e2e`;

/** The sample as published, pointed at the images built here. */
function sampleModel(modelImage: string): SentimentModel {
  const model = parse(readFileSync(SAMPLE, 'utf8')) as SentimentModel;
  model.metadata.namespace = ns;
  model.spec.model.image = { ...model.spec.model.image!, reference: modelImage };
  // Only the imported images exist in the cluster: never pull.
  model.spec.runtime = { ...model.spec.runtime, image: IMAGES.runtime, imagePullPolicy: 'Never' };
  // A laptop's container engine may have two cores in all: request less than the sample's whole core.
  model.spec.resources = { ...model.spec.resources, requests: { cpu: '250m', memory: '256Mi' } };
  return model;
}

/**
 * A Node.js client run in its own pod (the runtime image has node): POSTs two texts to the model's
 * Service over fresh connections, one request after another, until it has seen UNTIL_REVISION
 * answer for HOLD_MS or DEADLINE_S passes. Logs {"started":true} after its first answer, and a
 * JSON summary as its last line.
 */
const CLIENT = String.raw`
import http from 'node:http';
const { SERVICE_URL, UNTIL_REVISION, HOLD_MS, DEADLINE_S } = process.env;
const texts = ['A gorgeous, witty, seductive movie.', 'The plot is tedious and the acting is wooden.'];
const agent = new http.Agent({ keepAlive: false });
const call = (method, path, body) => new Promise((resolve, reject) => {
  const req = http.request(SERVICE_URL + path, { method, agent, timeout: 10000, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => (data += chunk));
    res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data)) : reject(new Error(method + ' ' + path + ': HTTP ' + res.statusCode + ' ' + data))));
  });
  req.on('timeout', () => req.destroy(new Error(method + ' ' + path + ': timed out')));
  req.on('error', reject);
  req.end(body ? JSON.stringify(body) : undefined);
});
const summary = { ok: 0, failed: 0, wrongLabels: 0, errors: [], revisions: {}, first: undefined, model: undefined };
const deadline = Date.now() + Number(DEADLINE_S) * 1000;
let since;
while (Date.now() < deadline) {
  try {
    const answer = await call('POST', '/v1/sentiment', { texts });
    summary.ok++;
    summary.revisions[answer.revision] = (summary.revisions[answer.revision] ?? 0) + 1;
    if (answer.results.map((r) => r.label).join() !== 'positive,negative') summary.wrongLabels++;
    if (summary.ok === 1) {
      summary.first = answer;
      summary.model = await call('GET', '/v1/model');
      console.log(JSON.stringify({ started: true }));
    }
    if (answer.revision === UNTIL_REVISION) {
      since ??= Date.now();
      if (Date.now() - since >= Number(HOLD_MS)) break;
    } else {
      since = undefined;
    }
  } catch (err) {
    summary.failed++;
    if (summary.errors.length < 10) summary.errors.push(String(err));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(JSON.stringify(summary));
`;

function clientPod(name: string, serviceUrl: string, untilRevision: string, holdMs: number, deadlineS: number): V1Pod {
  const env = { SERVICE_URL: serviceUrl, UNTIL_REVISION: untilRevision, HOLD_MS: String(holdMs), DEADLINE_S: String(deadlineS) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'sentiment-e2e-client' } },
    spec: {
      restartPolicy: 'Never',
      // Pod Security "restricted", which the namespace enforces.
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'client',
        image: IMAGES.runtime,
        imagePullPolicy: 'Never',
        command: ['node', '--input-type=module', '-e', CLIENT],
        env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }],
    },
  };
}

describe('end to end on k3s: Helm chart, sample model, Service, version bump', () => {
  let cluster: Cluster;
  let removeContext: (() => void) | undefined;
  const core = () => cluster.kubeConfig.makeApiClient(CoreV1Api);
  const logs = (name: string) => core().readNamespacedPodLog({ name, namespace: ns });
  const finished = (name: string, timeoutMs: number) => waitFor(async () => {
    const pod = await core().readNamespacedPod({ name, namespace: ns });
    return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' ? pod : undefined;
  }, timeoutMs, `client pod ${name} did not finish`, 1000);
  const summaryOf = async (name: string): Promise<Json> => JSON.parse((await logs(name)).trim().split('\n').at(-1) ?? '{}');

  beforeAll(async () => {
    const context = stageBuildContext();
    removeContext = context.remove;
    await buildImage(context.dir, 'Dockerfile.operator', IMAGES.operator);
    await buildImage(context.dir, 'Dockerfile.runtime', IMAGES.runtime, { VARIANT: 'cpu' });
    for (const version of [V1, V2]) {
      await buildImage(context.dir, 'hack/model-image/Dockerfile', IMAGES.model(version), {
        MODEL_DIR: 'models/sst2-bert-mini-en', MODEL_NAME: 'sst2-bert-mini-en', MODEL_REVISION: version, MODEL_QUANTIZATION: 'int8',
      });
    }
    cluster = await startCluster([IMAGES.operator, IMAGES.runtime, IMAGES.model(V1), IMAGES.model(V2)]);
    await installChart(cluster);
    await createNamespace(cluster.kubeConfig, ns, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  });
  afterAll(async () => {
    await cluster?.stop();
    removeContext?.();
  });

  it('runs the operator from the chart, both replicas available', async () => {
    const deployment = await readDeployment(cluster.kubeConfig, RELEASE_NAMESPACE, 'sentiment-operator');
    expect(deploymentAvailable(deployment, 2)).toBe(true);
    expect(deployment?.spec?.template.spec?.containers[0]?.image).toBe(IMAGES.operator);
  });

  it('brings the English CPU sample to Ready with its replicas serving the model image', async () => {
    const manifest = sampleModel(IMAGES.model(V1));
    await applyObject(cluster.kubeConfig, manifest, 'e2e');
    const model = await waitForModel(cluster.kubeConfig, ns, manifest.metadata.name, (m) => isReady(m) && m.status?.readyReplicas === manifest.spec.replicas, 300_000, 'Ready');
    expect(model.status?.endpoint).toBe(`http://${manifest.metadata.name}.${ns}.svc.cluster.local`);
    for (const pod of await listPods(cluster.kubeConfig, ns, `serving.sentiment.dev/model=${manifest.metadata.name}`)) {
      expect(pod.spec?.initContainers?.map((c) => c.image)).toEqual([IMAGES.model(V1)]);
      expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
    }
  });

  it('answers through its Service, called from another pod', async () => {
    const model = sampleModel(IMAGES.model(V1));
    const { endpoint } = (await waitForModel(cluster.kubeConfig, ns, model.metadata.name, isReady)).status!;
    await applyObject(cluster.kubeConfig, clientPod('client-once', endpoint!, revisionOf(V1), 0, 120), 'e2e');
    const pod = await finished('client-once', 180_000);
    const summary = await summaryOf('client-once');
    expect(pod.status?.phase, JSON.stringify(summary)).toBe('Succeeded');
    expect(summary).toMatchObject({ failed: 0, wrongLabels: 0, revisions: { [revisionOf(V1)]: 1 } });
    expect(summary.first.results.map((r: Json) => r.label)).toEqual(['positive', 'negative']);
    expect(summary.first.results[0].score).toBeGreaterThan(0.9);
    expect(summary.model).toMatchObject({ name: model.metadata.name, revision: revisionOf(V1), quantization: 'int8' });
  });

  it('rolls out a bumped model version while the Service keeps answering', async () => {
    const name = sampleModel(IMAGES.model(V1)).metadata.name;
    const { endpoint } = (await waitForModel(cluster.kubeConfig, ns, name, isReady)).status!;
    // The client calls through the whole rollout and stops once the new version has answered for 5 s.
    await applyObject(cluster.kubeConfig, clientPod('client-rollout', endpoint!, revisionOf(V2), 5000, 400), 'e2e');
    await waitFor(async () => (await logs('client-rollout')).includes('{"started":true}'), 120_000, 'client-rollout never got an answer', 500);

    const recorder = await recordStatuses(cluster.kubeConfig, ns, name);
    const bumped = sampleModel(IMAGES.model(V2));
    await applyObject(cluster.kubeConfig, bumped, 'e2e');
    const model = await waitForModel(cluster.kubeConfig, ns, name, (m) => (m.metadata.generation ?? 0) >= 2 && isReady(m)
      && condition(m, 'Progressing')?.reason === 'RolloutComplete' && m.status?.updatedReplicas === bumped.spec.replicas, 300_000, 'rollout complete');
    recorder.stop();

    expect(model.status?.revisions?.serving?.model).toBe(IMAGES.model(V2));
    expect(model.status?.revisions?.rollingOutTo).toBeUndefined();
    // On the way the status showed the new revision rolling out while the old one still served.
    expect(recorder.seen.some((m) => m.status?.revisions?.rollingOutTo?.model === IMAGES.model(V2) && m.status.revisions.serving?.model === IMAGES.model(V1))).toBe(true);
    const deployment = await readDeployment(cluster.kubeConfig, ns, name);
    expect(deployment?.spec?.template.spec?.initContainers?.[0]?.image).toBe(IMAGES.model(V2));
    const replicaSets = (await cluster.kubeConfig.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: ns })).items;
    expect(replicaSets.map((rs) => rs.spec?.replicas ?? 0).sort((a, b) => a - b)).toEqual([0, bumped.spec.replicas]);

    const pod = await finished('client-rollout', 420_000);
    const summary = await summaryOf('client-rollout');
    expect(pod.status?.phase, JSON.stringify(summary)).toBe('Succeeded');
    // Every request during the rollout was answered, first by the old version, then by the new one.
    expect(summary).toMatchObject({ failed: 0, wrongLabels: 0, errors: [] });
    expect(Object.keys(summary.revisions).sort()).toEqual([revisionOf(V1), revisionOf(V2)]);
  });
});
