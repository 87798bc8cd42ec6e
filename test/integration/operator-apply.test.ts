// A CPU model end to end: the operator creates the four children, the real scheduler places the
// pods on kwok CPU nodes, kwok makes them Ready, and the status reports it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { API_VERSION, ANNOTATION_APPLIED_HASH, ANNOTATION_TEMPLATE_HASH, KIND, type SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, isPodReady, listEvents, listPods, parseTable, readDeployment, readObject, waitForDeploymentAvailable } from '../support/kube.js';
import { applyModel, condition, isReady, MODEL_IMAGE, readModel, RUNTIME_IMAGE, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'apply';
const name = 'sst2';
const cpuNodes = ['cpu-1', 'cpu-2'];

describe('operator: applying a SentimentModel', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  let model: SentimentModel;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: cpuNodes.map((n) => cpuNode(n)) });
    await createNamespace(cp.kubeConfig, ns);
    await createNamespace(cp.kubeConfig, 'elsewhere');
    op = await startOperator(cp.kubeConfig, { namespaces: [ns] });
    await applyModel(cp.kubeConfig, 'elsewhere', name);
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2 });
    model = await waitForModel(cp.kubeConfig, ns, name, (m) => isReady(m) && m.status?.readyReplicas === 2, 45_000, 'Ready with 2 replicas');
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  const read = <T extends KubernetesObject>(apiVersion: string, kind: string, objName = name) => readObject<T>(cp.kubeConfig, { apiVersion, kind, name: objName, namespace: ns });

  it('creates the ConfigMap, Deployment, Service and PDB, each owned by the model', async () => {
    const children = await Promise.all([
      read<V1ConfigMap>('v1', 'ConfigMap', `${name}-runtime-config`),
      read<V1Deployment>('apps/v1', 'Deployment'),
      read<V1Service>('v1', 'Service'),
      read<V1PodDisruptionBudget>('policy/v1', 'PodDisruptionBudget'),
    ]);
    for (const child of children) {
      expect(child?.metadata?.ownerReferences).toEqual([
        { apiVersion: API_VERSION, kind: KIND, name, uid: model.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(child?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'sentiment-operator', 'serving.sentiment.dev/model': name });
      expect(child?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH]).toMatch(/^[a-f0-9]{64}$/);
    }
    const [configMap, deployment, service, pdb] = children as [V1ConfigMap, V1Deployment, V1Service, V1PodDisruptionBudget];
    expect(configMap.data?.['config.yaml']).toMatch(/quantization: int8/);

    const spec = deployment.spec!;
    expect(spec.replicas).toBe(2);
    expect(spec.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(spec.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH]).toMatch(/^[a-f0-9]{64}$/);
    const pod = spec.template.spec!;
    const runtime = pod.containers[0]!;
    expect(runtime.image).toBe(RUNTIME_IMAGE);
    expect(runtime.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(runtime.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(runtime.resources?.limits).toEqual({ cpu: '1', memory: '1Gi' });
    expect(runtime.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    // Without image volumes the model image is copied in by an init container.
    expect(pod.initContainers?.map((c) => [c.name, c.image])).toEqual([['model-copy', MODEL_IMAGE]]);
    expect(pod.volumes?.find((v) => v.name === 'config')?.configMap?.name).toBe(`${name}-runtime-config`);
    expect(pod.tolerations).toBeUndefined();

    expect(service.spec?.selector).toEqual(spec.selector?.matchLabels);
    expect(service.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 'http' });
    expect(pdb.spec).toMatchObject({ maxUnavailable: 1, selector: spec.selector });
  });

  it('gets Ready pods on the CPU nodes through the real scheduler and kwok', async () => {
    await waitForDeploymentAvailable(cp.kubeConfig, ns, name, 2);
    const pods = await listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${name}`);
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(cpuNodes).toContain(p.spec?.nodeName);
      expect(isPodReady(p)).toBe(true);
    }
  });

  it('reports Ready=True with counts, endpoint, images and observedGeneration', () => {
    expect(model.status).toMatchObject({
      observedGeneration: model.metadata.generation,
      replicas: 2, readyReplicas: 2, updatedReplicas: 2,
      endpoint: `http://${name}.${ns}.svc.cluster.local`,
      selector: `app.kubernetes.io/name=sentiment-runtime,serving.sentiment.dev/model=${name}`,
      model: MODEL_IMAGE,
      images: { runtime: RUNTIME_IMAGE, model: MODEL_IMAGE },
    });
    expect(condition(model, 'Ready')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', observedGeneration: model.metadata.generation });
    expect(condition(model, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
  });

  it('reaches Progressing=False RolloutComplete', async () => {
    const done = await waitForModel(cp.kubeConfig, ns, name, (m) => condition(m, 'Progressing')?.reason === 'RolloutComplete', 30_000);
    expect(condition(done, 'Progressing')?.status).toBe('False');
  });

  it('records events for what it created and for becoming Ready', async () => {
    const events = await listEvents(cp.kubeConfig, ns, name);
    const reasons = events.filter((e) => e.involvedObject.kind === KIND).map((e) => `${e.type}/${e.reason}: ${e.message}`);
    expect(reasons).toEqual(expect.arrayContaining([
      'Normal/Created: created ConfigMap sst2-runtime-config, Service sst2, PodDisruptionBudget sst2, Deployment sst2',
      expect.stringMatching(/^Normal\/Ready: 2\/2 replicas ready/),
    ]));
    expect(events.filter((e) => e.reason === 'Created')).toHaveLength(1);
  });

  it('shows the printer columns in kubectl get sentm -o wide', async () => {
    const { stdout } = await promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'get', 'sentm', '-n', ns, '-o', 'wide']);
    const rows = parseTable(stdout);
    expect(Object.keys(rows[0] ?? {})).toEqual(['NAME', 'READY', 'REPLICAS', 'MODEL', 'ROLLING-TO', 'QUANT', 'CANARY', 'STEP', 'GPU', 'ENDPOINT', 'AGE']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ NAME: name, READY: 'True', REPLICAS: '2', MODEL: MODEL_IMAGE, 'ROLLING-TO': '', QUANT: 'int8', CANARY: '', STEP: '', GPU: '0', ENDPOINT: `http://${name}.${ns}.svc.cluster.local` });
  });

  it('kubectl explain describes every spec field', async () => {
    const explain = async (field: string) => (await promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'explain', field, '--recursive=false'])).stdout;
    // The apiserver publishes a new CRD's OpenAPI a moment after it is established.
    await expect.poll(() => explain('sentimentmodel.spec').catch(() => ''), { timeout: 30_000 }).toContain('The model to serve and how');
    for (const field of ['spec', 'spec.model', 'spec.autoscaling', 'spec.resources.gpu', 'status', 'status.revisions.serving']) {
      const text = await explain(`sentimentmodel.${field}`);
      expect(text, field).not.toContain('<no description>');
    }
    expect(await explain('sentimentmodel.spec.model.pvc.claimName')).toContain('PersistentVolumeClaim in the model');
  });

  it('leaves models in namespaces it does not watch alone', async () => {
    expect((await readModel(cp.kubeConfig, 'elsewhere', name))?.status).toBeUndefined();
    expect(await readDeployment(cp.kubeConfig, 'elsewhere', name)).toBeUndefined();
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const get = (path: string) => fetch(`http://127.0.0.1:${op.port}${path}`);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect(await op.metric('sentiment_operator_leader')).toBe(1);
    expect(await op.metric('sentiment_operator_reconcile_total', { result: 'success' })).toBeGreaterThan(0);
    expect(await op.metric('sentiment_operator_api_writes_total', { verb: 'apply', kind: 'Deployment' })).toBeGreaterThanOrEqual(1);
    expect(await op.metric('sentiment_operator_reconcile_duration_seconds_count')).toBeGreaterThan(0);
    expect(await op.metric('sentiment_operator_workqueue_depth')).toBe(0);
  });
});
