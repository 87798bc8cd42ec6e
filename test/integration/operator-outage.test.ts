// Control-plane outages: the apiserver killed and restarted, etcd killed and restarted, the
// operator killed mid-rollout. The operator stays up, its watches resume without a restart, and
// every model is back to Ready with a correct status within a stated time.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { envName } from '../../operator/src/config.js';
import { cpuNode, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, waitFor } from '../support/kube.js';
import { applyModel, condition, isReady, readModel, RUNTIME_IMAGE, startOperator, waitForModels, type RunningOperator } from '../support/operator.js';
import { repoRoot } from '../support/runtime.js';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';

const ns = 'outage';
/** Enough models to have reconciles in flight when the apiserver goes, few enough for 2 cores. */
const names = Array.from({ length: 12 }, (_, i) => `m${i}`);
const APISERVER_DOWN_MS = 20_000;
const ETCD_DOWN_MS = 8_000;
/** From the control plane answering again to every model Ready with its status right. */
const RECOVERY_BOUND_MS = 30_000;
/** From the apiserver answering again to the operator acting on a watch event. */
const WATCH_RESUMED_BOUND_MS = 15_000;
const NEW_RUNTIME = 'ghcr.io/example/sentiment-runtime:0.2.0';

const converged = (m: SentimentModel) => isReady(m) && condition(m, 'Progressing')?.reason === 'RolloutComplete' && m.status?.readyReplicas === 1;

describe('operator: control-plane outages', () => {
  let cp: ControlPlane;
  let op: RunningOperator | undefined;
  const deployments = async () => (await cp.kubeConfig.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: ns })).items;
  const pods = async () => (await cp.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns })).items;

  /** One Deployment per model, owned by it alone, and each status as the cluster is. */
  async function expectConsistent(image: string): Promise<void> {
    const deps = (await deployments()).filter((d) => names.includes(d.metadata?.name ?? ''));
    expect(deps.map((d) => d.metadata?.name).sort()).toEqual([...names].sort());
    for (const d of deps) {
      expect(d.metadata?.ownerReferences?.map((o) => o.name)).toEqual([d.metadata?.name]);
      expect(d.spec?.template.spec?.containers[0]?.image).toBe(image);
    }
    for (const name of names) {
      const m = (await readModel(cp.kubeConfig, ns, name))!;
      expect(m.status?.observedGeneration, name).toBe(m.metadata.generation);
      expect(m.status?.replicas, name).toBe(1);
    }
  }

  /** Every model accepted within timeoutMs, else a failure listing each model's conditions. */
  async function waitForAll(accept: (m: SentimentModel) => boolean, timeoutMs: number): Promise<void> {
    await waitForModels(cp.kubeConfig, ns, names, accept, timeoutMs).catch(async (err: Error) => {
      const states = await Promise.all(names.map(async (n) => {
        const m = await readModel(cp.kubeConfig, ns, n);
        return `${n} (generation ${m?.metadata.generation}): ${(m?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`).join('; ')}`;
      }));
      const nodes = (await cp.kubeConfig.makeApiClient(CoreV1Api).listNode()).items.map((n) => {
        const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
        return `node ${n.metadata?.name}: Ready=${ready?.status} ${ready?.reason ?? ''} since ${ready?.lastTransitionTime?.toISOString()}`;
      });
      // Which of the test cluster's controllers stalled: the Deployment's status (controller-manager),
      // each pod's binding (scheduler) and its phase and readiness (kwok, or the node lifecycle controller).
      const workloads = (await deployments()).filter((d) => names.includes(d.metadata?.name ?? '')).map((d) =>
        `deployment ${d.metadata?.name}: generation ${d.metadata?.generation} observed ${d.status?.observedGeneration}, replicas ${d.status?.replicas ?? 0} updated ${d.status?.updatedReplicas ?? 0} ready ${d.status?.readyReplicas ?? 0}`);
      const podStates = (await pods()).map((p) => {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
        return `pod ${p.metadata?.name}: created ${p.metadata?.creationTimestamp?.toISOString()}${p.metadata?.deletionTimestamp ? ' deleting' : ''}, node ${p.spec?.nodeName ?? '-'}, ${p.status?.phase}, Ready=${ready?.status ?? '-'} ${ready?.reason ?? ''} since ${ready?.lastTransitionTime?.toISOString() ?? '-'}`;
      });
      throw new Error(`${err.message} (now ${new Date().toISOString()})\n${[...states, ...nodes, ...workloads, ...podStates].join('\n')}`);
    });
  }

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1', { cpu: '64', memory: '256Gi', pods: '250' })] });
    await createNamespace(cp.kubeConfig, ns);
    // The shipped defaults for what decides recovery: retry backoff and leader-election timings.
    op = await startOperator(cp.kubeConfig, {
      // Every failed call during an outage is a warning; they would bury the test's output.
      logLevel: process.env.SENTIMENT_TEST_LOG ?? 'error',
      backoff: { baseDelayMs: 250, maxDelayMs: 60_000 },
      leaderElection: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    });
  });
  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it(`apiserver killed for ${APISERVER_DOWN_MS / 1000} s mid-reconcile: watches resumed within ${WATCH_RESUMED_BOUND_MS / 1000} s, every model Ready again within ${RECOVERY_BOUND_MS / 1000} s`, async () => {
    await Promise.all(names.map((name) => applyModel(cp.kubeConfig, ns, name, { replicas: 1 })));
    await waitFor(async () => (await deployments()).length >= 2, 30_000, 'no Deployment created');
    await cp.kill('kube-apiserver');
    await new Promise((r) => setTimeout(r, APISERVER_DOWN_MS));
    await cp.restart('kube-apiserver');
    const back = Date.now();
    // The same operator's watches deliver again: a model made now gets its children at once.
    await applyModel(cp.kubeConfig, ns, 'after-apiserver', { replicas: 1 });
    await waitFor(async () => (await deployments()).some((d) => d.metadata?.name === 'after-apiserver'), WATCH_RESUMED_BOUND_MS, 'no Deployment for a model made after the outage');
    console.log(`apiserver outage: a new model's Deployment created ${Date.now() - back} ms after the apiserver answered again`);
    // The test cluster's own controllers are not under test, and left alone they kept the models
    // from Ready for 55-60 s and more: kube-controller-manager holds the ReplicaSets whose syncs
    // failed in its per-item backoff, and kwok (the fake kubelet) did not always resume its node's
    // heartbeats, leaving the node NotReady and so every pod unready. They are restarted, as a
    // real cluster's would recover; the operator is not.
    for (const component of ['kube-controller-manager', 'kube-scheduler', 'kwok']) {
      await cp.kill(component);
      await cp.restart(component);
    }
    console.log(`apiserver outage: the test cluster's controllers restarted ${Date.now() - back} ms after the apiserver answered again (${new Date().toISOString()})`);
    await waitForAll(converged, RECOVERY_BOUND_MS);
    const readyAfter = Date.now() - back;
    // Which side the recovery time is spent on: the last pod turning Ready (the test cluster) or the models following it (the operator).
    const recovered = await pods();
    const last = (at: (p: V1Pod) => Date | undefined) => Math.max(...recovered.map((p) => at(p)?.getTime() ?? Number.NaN)) - back;
    const since = (type: string) => (p: V1Pod) => p.status?.conditions?.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime;
    console.log(`apiserver outage: every model Ready ${readyAfter} ms after the apiserver answered again; of its ${recovered.length} pods the last created ~${last((p) => p.metadata?.creationTimestamp)} ms after, scheduled ~${last(since('PodScheduled'))}, Ready ~${last(since('Ready'))} (whole seconds); ${await op!.metric('sentiment_operator_reconcile_errors_total')} failed reconciles`);
    await expectConsistent(RUNTIME_IMAGE);
    await waitForModels(cp.kubeConfig, ns, ['after-apiserver'], converged, RECOVERY_BOUND_MS);
    expect(await op!.metric('sentiment_operator_leader')).toBe(1);
  }, 180_000);

  it(`etcd killed for ${ETCD_DOWN_MS / 1000} s: a spec change right after it is rolled out to every model within ${RECOVERY_BOUND_MS / 1000} s`, async () => {
    await cp.kill('etcd');
    await new Promise((r) => setTimeout(r, ETCD_DOWN_MS));
    await cp.restart('etcd');
    // The apiserver reconnects to etcd on its own; writes work again once it has.
    await waitFor(() => applyModel(cp.kubeConfig, ns, names[0]!, { replicas: 1, batching: { maxBatchSize: 16 } }).then(() => true), 30_000, 'the apiserver took no write after etcd came back');
    const back = Date.now();
    await Promise.all(names.slice(1).map((name) => applyModel(cp.kubeConfig, ns, name, { replicas: 1, batching: { maxBatchSize: 16 } })));
    await waitForAll((m) => converged(m) && m.metadata.generation === 2, RECOVERY_BOUND_MS);
    console.log(`etcd outage: the change was Ready on every model ${Date.now() - back} ms after the apiserver took writes again`);
    await expectConsistent(RUNTIME_IMAGE);
  });

  it(`the operator killed mid-rollout: its successor completes every rollout within ${RECOVERY_BOUND_MS / 1000} s of taking the lease`, async () => {
    await op?.stop();
    op = undefined;
    // The real process, as deployed (dist/ is built by the test global setup), so SIGKILL leaves its lease behind.
    const logFile = join(cp.dir, 'operator-killed-mid-rollout.log');
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, [join(repoRoot, 'dist/operator/src/main.js')], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env, KUBECONFIG: cp.kubeconfigPath,
        [envName('http-host')]: '127.0.0.1', [envName('http-port')]: '0', [envName('workers')]: '1',
        [envName('leader-election-namespace')]: 'default', [envName('leader-election-identity')]: 'doomed-operator',
        [envName('lease-duration-ms')]: '3000', [envName('renew-deadline-ms')]: '2000', [envName('retry-period-ms')]: '250',
      },
    });
    closeSync(log);
    try {
      await Promise.all(names.map((name) => applyModel(cp.kubeConfig, ns, name, { replicas: 1, batching: { maxBatchSize: 16 }, runtime: { image: NEW_RUNTIME } })));
      const rolled = async () => (await deployments()).filter((d) => d.spec?.template.spec?.containers[0]?.image === NEW_RUNTIME).length;
      await waitFor(async () => (await rolled()) >= 1, 30_000, () => `the operator started no rollout:\n${readFileSync(logFile, 'utf8')}`, 20);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    const atKill = (await deployments()).filter((d) => d.spec?.template.spec?.containers[0]?.image === NEW_RUNTIME).length;
    console.log(`killed the operator with ${atKill} of ${names.length} rollouts started`);
    op = await startOperator(cp.kubeConfig, { logLevel: process.env.SENTIMENT_TEST_LOG ?? 'error' });
    await waitFor(async () => (await op!.metric('sentiment_operator_leader')) === 1, 15_000, 'the successor never took the lease');
    const leading = Date.now();
    await waitForAll((m) => converged(m) && m.metadata.generation === 3, RECOVERY_BOUND_MS);
    console.log(`every rollout complete ${Date.now() - leading} ms after the successor took the lease`);
    await expectConsistent(NEW_RUNTIME);
    // Each rollout finished: the new ReplicaSet holds the one pod, the old ones none.
    const replicaSets = (await cp.kubeConfig.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: ns })).items.filter((rs) => names.includes(rs.metadata?.ownerReferences?.[0]?.name ?? ''));
    for (const name of names) {
      const owned = replicaSets.filter((rs) => rs.metadata?.ownerReferences?.[0]?.name === name);
      expect(owned.filter((rs) => (rs.spec?.replicas ?? 0) > 0).map((rs) => rs.spec?.template?.spec?.containers[0]?.image), name).toEqual([NEW_RUNTIME]);
    }
  });
});

