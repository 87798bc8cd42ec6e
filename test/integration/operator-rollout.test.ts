// A new model image tag rolls the pods: the Deployment controller makes a new ReplicaSet, kwok
// readies its pods, and the model's status goes through Progressing to Ready again, showing the
// new revision rolling out and then serving.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api } from '@kubernetes/client-node';
import { ANNOTATION_TEMPLATE_HASH, sentimentModelCRD, type SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, listEvents, listPods, parseTable, readDeployment, waitFor } from '../support/kube.js';
import {
  applyModel, condition, isReady, MODEL_IMAGE, recordStatuses, RUNTIME_IMAGE, startOperator, waitForModel, type RunningOperator,
} from '../support/operator.js';

const ns = 'rollout';
const name = 'sst2';
const NEW_IMAGE = 'ghcr.io/example/sst2-model:1.0.1';
const complete = (m: SentimentModel) => isReady(m) && condition(m, 'Progressing')?.reason === 'RolloutComplete' && m.status?.updatedReplicas === 2 && m.status.replicas === 2;

describe('operator: changing the model image tag', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  let before: { hash?: string; replicaSets: string[] };
  let seen: SentimentModel[];
  let final: SentimentModel;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1'), cpuNode('cpu-2')] });
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig);
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2 });
    await waitForModel(cp.kubeConfig, ns, name, complete, 45_000, 'first rollout complete');
    const deployment = await readDeployment(cp.kubeConfig, ns, name);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    before = {
      hash: deployment?.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH],
      replicaSets: (await apps.listNamespacedReplicaSet({ namespace: ns })).items.map((rs) => rs.metadata?.name ?? ''),
    };

    const recorder = await recordStatuses(cp.kubeConfig, ns, name);
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2, model: { image: { reference: NEW_IMAGE } } });
    final = await waitForModel(cp.kubeConfig, ns, name, (m) => m.metadata.generation === 2 && complete(m), 45_000, 'second rollout complete');
    await recorder.stopAfter(final);
    seen = recorder.seen;
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('puts a new pod-template hash on the Deployment and creates a new ReplicaSet', async () => {
    const deployment = await readDeployment(cp.kubeConfig, ns, name);
    const hash = deployment?.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
    expect(before.hash).toMatch(/^[a-f0-9]{64}$/);
    expect(hash).toMatch(/^[a-f0-9]{64}$/);
    expect(hash).not.toBe(before.hash);
    expect(deployment?.spec?.template.spec?.initContainers?.[0]?.image).toBe(NEW_IMAGE);

    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const replicaSets = (await apps.listNamespacedReplicaSet({ namespace: ns })).items;
    expect(before.replicaSets).toHaveLength(1);
    expect(replicaSets).toHaveLength(2);
    const fresh = replicaSets.find((rs) => !before.replicaSets.includes(rs.metadata?.name ?? ''));
    expect(fresh?.spec?.template?.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH]).toBe(hash);
    expect(fresh?.status?.readyReplicas).toBe(2);
    expect(replicaSets.find((rs) => rs !== fresh)?.spec?.replicas).toBe(0);
  });

  it('replaces every pod with one of the new template', async () => {
    const hash = (await readDeployment(cp.kubeConfig, ns, name))?.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
    const pods = await waitFor(async () => {
      const live = (await listPods(cp.kubeConfig, ns, `serving.sentiment.dev/model=${name}`)).filter((p) => !p.metadata?.deletionTimestamp);
      return live.length === 2 && live.every((p) => p.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH] === hash) && live;
    }, 30_000, 'old pods still around');
    expect(pods.map((p) => p.spec?.initContainers?.[0]?.image)).toEqual([NEW_IMAGE, NEW_IMAGE]);
  });

  it('reports Progressing=True for the new generation before Ready again with all replicas updated', () => {
    const progressingAt = seen.findIndex((m) => m.status?.observedGeneration === 2 && condition(m, 'Progressing')?.status === 'True');
    const completeAt = seen.findIndex((m) => m.status?.observedGeneration === 2 && complete(m));
    expect(progressingAt, `statuses seen: ${JSON.stringify(seen.map((m) => m.status))}`).toBeGreaterThanOrEqual(0);
    expect(condition(seen[progressingAt], 'Progressing')?.reason).toBe('RolloutInProgress');
    expect(completeAt).toBeGreaterThan(progressingAt);
    expect(final.status).toMatchObject({ observedGeneration: 2, replicas: 2, readyReplicas: 2, updatedReplicas: 2, model: NEW_IMAGE });
    expect(final.status?.images?.model).toBe(NEW_IMAGE);
  });

  it('shows the new revision rolling out while the old one serves, then the new one serving', async () => {
    const hash = (await readDeployment(cp.kubeConfig, ns, name))?.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
    const revision = (templateHash: string | undefined, model: string) => ({ templateHash, model, runtimeImage: RUNTIME_IMAGE, quantization: 'int8' });
    const [oldRevision, newRevision] = [revision(before.hash, MODEL_IMAGE), revision(hash, NEW_IMAGE)];
    const history = JSON.stringify(seen.map((m) => m.status?.revisions));
    const rollingAt = seen.findIndex((m) => m.status?.observedGeneration === 2 && m.status.revisions?.rollingOutTo !== undefined);
    expect(rollingAt, history).toBeGreaterThanOrEqual(0);
    expect(seen[rollingAt]?.status?.revisions).toEqual({ serving: oldRevision, rollingOutTo: newRevision });
    const switchedAt = seen.findIndex((m) => m.status?.revisions?.serving?.templateHash === hash);
    expect(switchedAt, history).toBeGreaterThan(rollingAt);
    // Every status in between has the old revision serving, so nothing ever showed a mix of both or neither.
    expect(seen.slice(rollingAt, switchedAt).every((m) => m.status?.revisions?.serving?.templateHash === before.hash)).toBe(true);
    expect(final.status?.revisions).toEqual({ serving: newRevision });
  });

  it('kubectl get sentm shows the model that serves, and the one rolling out beside it', async () => {
    // The CRD's printer columns, which the apiserver evaluates for `kubectl get` and `-w`, on each status seen.
    const columns = sentimentModelCRD().spec.versions[0]!.additionalPrinterColumns!;
    const shown = (m: SentimentModel) => ['Model', 'Rolling-To', 'Quant'].map((column) => {
      const path = columns.find((c) => c.name === column)!.jsonPath;
      return path.split('.').slice(1).reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], m) ?? '';
    });
    const rollingAt = seen.findIndex((m) => m.status?.observedGeneration === 2 && m.status.revisions?.rollingOutTo !== undefined);
    expect(rollingAt).toBeGreaterThanOrEqual(0);
    expect(seen[rollingAt]?.status?.model).toBe(NEW_IMAGE);
    expect(shown(seen[rollingAt]!)).toEqual([MODEL_IMAGE, NEW_IMAGE, 'int8']);
    // Once the new revision serves, MODEL switches and ROLLING-TO empties: as kubectl prints it now.
    const { stdout } = await promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'get', 'sentm', name, '-n', ns]);
    expect(parseTable(stdout)).toEqual([expect.objectContaining({ MODEL: NEW_IMAGE, 'ROLLING-TO': '', QUANT: 'int8' })]);
    expect(shown(final)).toEqual([NEW_IMAGE, '', 'int8']);
  });

  it('surges a CPU model and says why', () => {
    expect(final.status?.rollout).toMatchObject({ strategy: 'Surge', reason: 'NoGPU' });
    expect(final.status?.rollout?.templateHash).toBe(final.status?.revisions?.serving?.templateHash);
  });

  it('keeps serving during the rollout: Ready never turns False', () => {
    expect(seen.filter((m) => condition(m, 'Ready')?.status === 'False')).toEqual([]);
  });

  it('records RolloutStarted and RolloutComplete events', async () => {
    const events = await listEvents(cp.kubeConfig, ns, name);
    const started = events.filter((e) => e.reason === 'RolloutStarted');
    expect(started).toHaveLength(1);
    expect(started[0]?.message).toContain(NEW_IMAGE);
    expect(events.filter((e) => e.reason === 'Updated').map((e) => e.message)).toEqual(['updated ConfigMap sst2-runtime-config, Deployment sst2']);
    expect(events.filter((e) => e.reason === 'RolloutComplete').length).toBeGreaterThanOrEqual(1);
  });
});
