// The operator owns its children's fields: hand edits to them are reverted at once (watch event,
// one reconcile), with a DriftCorrected event and a metric, while a cluster nobody touched still
// costs no writes on resync.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, listEvents, waitFor } from '../support/kube.js';
import { applyModel, RUNTIME_IMAGE, startOperator, type RunningOperator } from '../support/operator.js';

const ns = 'drift';
const name = 'reviews';
/** Generous for a shared 2-core machine; the corrections measured take well under a second. */
const REVERT_WITHIN_MS = 10_000;

describe('operator: drift of the children it owns', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  const apps = () => cp.kubeConfig.makeApiClient(AppsV1Api);
  const core = () => cp.kubeConfig.makeApiClient(CoreV1Api);
  const deployment = () => apps().readNamespacedDeployment({ namespace: ns, name });
  const runtime = (d: V1Deployment) => d.spec?.template.spec?.containers.find((c) => c.name === 'runtime');
  /** As a person at a terminal would, under kubectl's own field managers. */
  const kubectl = (...args: string[]) => promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, '-n', ns, ...args]);
  const corrections = (kind: string) => op.metric('sentiment_operator_drift_corrections_total', { kind });
  const writesTo = (kind: string) => op.metric('sentiment_operator_api_writes_total', { kind });
  const driftEvents = async () => (await listEvents(cp.kubeConfig, ns, name, 'DriftCorrected')).map((e) => e.message ?? '');

  /** Waits for `reverted`, and reports how long it took and how many writes to `kind` it cost. */
  async function timedRevert(kind: string, edit: () => Promise<unknown>, reverted: () => Promise<boolean>): Promise<{ ms: number; writes: number; corrections: number }> {
    const [writes, fixed] = [await writesTo(kind), await corrections(kind)];
    const started = Date.now();
    await edit();
    await waitFor(reverted, REVERT_WITHIN_MS, `${kind} not reverted`, 20);
    const ms = Date.now() - started;
    // The event is written after the child: let the reconcile finish before counting.
    await waitFor(async () => (await corrections(kind)) > fixed, 5000, 'no correction counted');
    return { ms, writes: (await writesTo(kind)) - writes, corrections: (await corrections(kind)) - fixed };
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    await createNamespace(cp.kubeConfig, ns, {}, false);
    op = await startOperator(cp.kubeConfig, { resyncSeconds: 0.5 });
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2 });
    await waitFor(async () => (await deployment().catch(() => undefined))?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH], 30_000, 'no Deployment');
    await waitFor(async () => (await core().readNamespacedService({ namespace: ns, name }).catch(() => undefined)) !== undefined, 30_000, 'no Service');
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('reverts an edited runtime Deployment: image, injected env, privileged, replicas', async () => {
    const patch = JSON.stringify([
      { op: 'replace', path: '/spec/replicas', value: 7 },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'docker.io/attacker/miner:1.0' },
      { op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'NODE_OPTIONS', value: '--require=/tmp/evil.js' }] },
      { op: 'add', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true },
      { op: 'replace', path: '/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation', value: true },
    ]);
    let editedImage = '';
    const result = await timedRevert('Deployment', async () => {
      // The object as the patch left it, before any revert.
      editedImage = (await kubectl('patch', 'deployment', name, '--type=json', '--field-manager=kubectl-edit', '-p', patch, '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).stdout;
    }, async () => {
      const d = await deployment();
      const c = runtime(d);
      return d.spec?.replicas === 2 && c?.image === RUNTIME_IMAGE && c.env === undefined && c.securityContext?.privileged === undefined
        && c.securityContext?.allowPrivilegeEscalation === false;
    });
    console.log(`Deployment edit reverted in ${result.ms} ms with ${result.writes} writes`);
    // The edit really landed before it was reverted.
    expect(editedImage).toBe('docker.io/attacker/miner:1.0');
    // One reconcile: a JSON patch taking back the spec, then the apply that owns it again.
    expect(result).toMatchObject({ writes: 2, corrections: 1 });
    const message = (await driftEvents()).find((m) => m.includes('Deployment reviews'));
    expect(message).toContain('spec.template.spec.containers[name=runtime].env[name=NODE_OPTIONS] (added by kubectl-edit)');
    expect(message).toContain('spec.template.spec.containers[name=runtime].securityContext.privileged (added by kubectl-edit)');
    expect(message).toContain('spec.template.spec.containers[name=runtime].image (changed by kubectl-edit)');
    expect(message).toContain('spec.replicas (changed by kubectl-edit)');
    // The reverted template is ours again: no field of it is left to the editor.
    const managers = (await deployment()).metadata?.managedFields?.filter((e) => JSON.stringify(e.fieldsV1).includes('f:template')).map((e) => e.manager);
    expect(managers).not.toContain('kubectl-edit');
  });

  it('reverts a Service edited to select other pods on another port', async () => {
    const service = () => core().readNamespacedService({ namespace: ns, name });
    const before = await service();
    const patch = JSON.stringify([
      { op: 'replace', path: '/spec/selector', value: { app: 'other' } },
      { op: 'replace', path: '/spec/ports/0/port', value: 81 },
    ]);
    const result = await timedRevert('Service', () => kubectl('patch', 'service', name, '--type=json', '--field-manager=kubectl-edit', '-p', patch), async () => {
      const s = await service();
      return JSON.stringify(s.spec?.selector) === JSON.stringify(before.spec?.selector) && s.spec?.ports?.length === 1 && s.spec.ports[0]?.port === 80;
    });
    expect(result).toMatchObject({ writes: 2, corrections: 1 });
    expect((await service()).spec?.clusterIP).toBe(before.spec?.clusterIP);
    expect((await driftEvents()).find((m) => m.includes('Service reviews'))).toContain('spec.selector');
  });

  it('restores a removed applied-hash annotation, a scaled Deployment and an edited runtime config', async () => {
    const hash = (await deployment()).metadata?.annotations?.[ANNOTATION_APPLIED_HASH];
    await timedRevert('Deployment', () => kubectl('annotate', 'deployment', name, `${ANNOTATION_APPLIED_HASH}-`),
      async () => (await deployment()).metadata?.annotations?.[ANNOTATION_APPLIED_HASH] === hash);
    await timedRevert('Deployment', () => kubectl('scale', 'deployment', name, '--replicas=5'), async () => (await deployment()).spec?.replicas === 2);

    const configMap = () => core().readNamespacedConfigMap({ namespace: ns, name: `${name}-runtime-config` });
    const config = (await configMap()).data?.['config.yaml'];
    await timedRevert('ConfigMap', () => kubectl('patch', 'configmap', `${name}-runtime-config`, '--type=merge', '-p', JSON.stringify({ data: { 'config.yaml': 'server: {port: 1}', extra: 'x' } })),
      async () => JSON.stringify((await configMap()).data) === JSON.stringify({ 'config.yaml': config }));
  });

  it('leaves replicas to the SentimentModel: a scale of the model is rolled out, not reverted', async () => {
    await kubectl('scale', 'sentimentmodel', name, '--replicas=3');
    await waitFor(async () => (await deployment()).spec?.replicas === 3, REVERT_WITHIN_MS, 'the model\'s scale was not rolled into the Deployment');
  });

  it('keeps `kubectl rollout restart`, and writes nothing on resync once nothing drifted', async () => {
    await kubectl('rollout', 'restart', 'deployment', name);
    const restartedAt = () => deployment().then((d) => d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']);
    expect(await restartedAt()).toBeDefined();
    await new Promise((r) => setTimeout(r, 1000));
    const [writes, reconciles] = [await op.writes(), await op.metric('sentiment_operator_reconcile_total')];
    await waitFor(async () => (await op.metric('sentiment_operator_reconcile_total')) >= reconciles + 4, 10_000, 'no resyncs happened');
    expect(await op.writes()).toBe(writes);
    expect(await restartedAt()).toBeDefined();
    expect(await op.metric('sentiment_operator_reconcile_errors_total')).toBe(0);
  });
});
