// Children the apiserver refuses although the SentimentModel passed validation: a cluster policy
// (a ValidatingAdmissionPolicy, as Kyverno or Gatekeeper would be) refusing the Deployment, and a
// PriorityClass that does not exist, which only the ReplicaSet's pod creation finds out. Either way
// the model's status says so, with the apiserver's message and the generation it answered.
import { AppsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuNode, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { applyObject, createNamespace, errorText, listEvents, readDeployment, waitFor } from '../support/kube.js';
import { applyModel, condition, isReady, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';
import { FULL_SCHEDULING } from '../support/scheduling.js';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';

const ns = 'refused';
const POLICY_MESSAGE = 'cluster policy: a Deployment in this namespace runs at most 3 replicas';

/** A cap on replicas, refusing with 422 Invalid like the apiserver's own validation does. */
const policy = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'replica-cap' },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
    validations: [{ expression: 'object.spec.replicas <= 3', message: POLICY_MESSAGE, reason: 'Invalid' }],
  },
};
const binding = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'replica-cap' },
  spec: { policyName: 'replica-cap', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
};

/** Every condition at the model's generation, and the status too: the answer is about this spec. */
function expectCurrent(m: SentimentModel): void {
  const generation = m.metadata.generation;
  expect(m.status?.observedGeneration).toBe(generation);
  for (const c of m.status?.conditions ?? []) expect(c.observedGeneration, c.type).toBe(generation);
}

describe('operator: children the apiserver refuses', () => {
  let cp: ControlPlane;
  let op: RunningOperator;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1')] });
    await createNamespace(cp.kubeConfig, ns);
    await applyObject(cp.kubeConfig, policy);
    await applyObject(cp.kubeConfig, binding);
    // The apiserver loads a new policy asynchronously: wait until a dry run is refused.
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const probe = {
      metadata: { name: 'probe' },
      spec: { replicas: 5, selector: { matchLabels: { app: 'probe' } }, template: { metadata: { labels: { app: 'probe' } }, spec: { containers: [{ name: 'c', image: 'probe:1' }] } } },
    };
    await waitFor(
      () => apps.createNamespacedDeployment({ namespace: ns, body: probe, dryRun: 'All' }).then(() => false, (err: unknown) => errorText(err).includes(POLICY_MESSAGE)),
      30_000,
      'the ValidatingAdmissionPolicy never took effect',
    );
    op = await startOperator(cp.kubeConfig);
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('reports a new model whose Deployment a policy refuses: Ready=False, Degraded=True, the apiserver\'s message', async () => {
    await applyModel(cp.kubeConfig, ns, 'fresh', { replicas: 5 });
    const m = await waitForModel(cp.kubeConfig, ns, 'fresh', (x) => condition(x, 'Degraded')?.status === 'True', 30_000, 'Degraded');
    expectCurrent(m);
    expect(condition(m, 'Degraded')).toMatchObject({ reason: 'ApplyFailed' });
    expect(condition(m, 'Degraded')?.message).toMatch(/^applying Deployment fresh: HTTP 422: .*cluster policy: a Deployment in this namespace runs at most 3 replicas/);
    expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: condition(m, 'Degraded')?.message });
    expect(condition(m, 'Progressing')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(await readDeployment(cp.kubeConfig, ns, 'fresh')).toBeUndefined();
    const events = await listEvents(cp.kubeConfig, ns, 'fresh', 'ApplyFailed');
    expect(events.map((e) => [e.type, e.count])).toEqual([['Warning', 1]]);
  });

  it('reports a Ready model whose changed spec is refused at its new generation, and recovers once the spec is fixed', async () => {
    await applyModel(cp.kubeConfig, ns, 'steady', { replicas: 1 });
    await waitForModel(cp.kubeConfig, ns, 'steady', isReady, 45_000, 'Ready');

    await applyModel(cp.kubeConfig, ns, 'steady', { replicas: 4 });
    const refused = await waitForModel(cp.kubeConfig, ns, 'steady', (x) => x.metadata.generation === 2 && condition(x, 'Degraded')?.status === 'True', 30_000, 'Degraded at generation 2');
    expectCurrent(refused);
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(condition(refused, 'Degraded')?.message).toContain(POLICY_MESSAGE);
    // The old Deployment stays as it was.
    expect((await readDeployment(cp.kubeConfig, ns, 'steady'))?.spec?.replicas).toBe(1);

    await applyModel(cp.kubeConfig, ns, 'steady', { replicas: 2 });
    const fixed = await waitForModel(cp.kubeConfig, ns, 'steady', (x) => x.metadata.generation === 3 && isReady(x) && condition(x, 'Degraded')?.status === 'False', 45_000, 'Ready at generation 3');
    expectCurrent(fixed);
    expect(condition(fixed, 'Degraded')).toMatchObject({ reason: 'AsExpected' });
  });

  it('has every scheduling field the CRD accepts accepted in the Deployment too', async () => {
    await applyModel(cp.kubeConfig, ns, 'placed', { scheduling: FULL_SCHEDULING });
    const m = await waitForModel(cp.kubeConfig, ns, 'placed', (x) => x.status?.replicas !== undefined && condition(x, 'Ready')?.reason !== 'Creating', 30_000, 'a status past Creating');
    expect(condition(m, 'Degraded')?.reason).not.toBe('ApplyFailed');
    const pod = (await readDeployment(cp.kubeConfig, ns, 'placed'))?.spec?.template.spec;
    expect(pod).toMatchObject({ nodeSelector: FULL_SCHEDULING.nodeSelector, affinity: FULL_SCHEDULING.affinity });
    expect(pod?.tolerations).toEqual(expect.arrayContaining(FULL_SCHEDULING.tolerations));
  });

  it.each([
    ['a PriorityClass', 'unprioritized', { priorityClassName: 'inference-high' }, 'no PriorityClass with name inference-high was found'],
    ['a RuntimeClass', 'unsandboxed', { runtimeClassName: 'gvisor' }, 'RuntimeClass "gvisor" not found'],
  ])('reports %s that does not exist as PodCreationFailed with the apiserver\'s message', async (_what, name, scheduling, message) => {
    await applyModel(cp.kubeConfig, ns, name, { scheduling });
    const m = await waitForModel(cp.kubeConfig, ns, name, (x) => condition(x, 'Degraded')?.status === 'True', 45_000, 'Degraded');
    expectCurrent(m);
    expect(condition(m, 'Degraded')).toMatchObject({ reason: 'PodCreationFailed' });
    expect(condition(m, 'Degraded')?.message).toContain(message);
    expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCreationFailed' });
  });
});
