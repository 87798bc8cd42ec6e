import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ConditionType, LABEL_MODEL, type RolloutChoice, type SentimentModel, type SentimentModelStatus,
} from '../api/v1alpha1/index.js';
import { Applier, type ApplyOutcome } from './apply.js';
import type { Caches } from './informers.js';
import { templateHashOf } from './resources/deployment.js';
import { desiredObjects, type DesiredObjects } from './resources/desired.js';
import type { ClusterFacts } from './resources/facts.js';
import { childNames, endpoint, modelSummary } from './resources/names.js';
import { revisionOf } from './revisions.js';
import { computeStatus, ownedStatusHash, Reason } from './status.js';
import { decideAuto, standingChoice } from './strategy.js';
import { classify, errorMessage, Failure } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeWriter } from '../kube/writer.js';
import type { OperatorMetrics } from '../metrics.js';

export interface ReconcilerDeps {
  caches: Caches;
  writer: KubeWriter;
  events: EventRecorder;
  metrics: Pick<OperatorMetrics, 'setModelConditions'>;
  cluster: Omit<ClusterFacts, 'rolloutStrategy'>;
  log: Logger;
}

/**
 * How long after the model's pods last released resources (terminated) the scheduler may still
 * take to retry the pods that waited for them: its per-pod backoff reaches 10 s.
 */
const SCHEDULER_SETTLE_MS = 12_000;

/** The ConfigMap goes first because the pods mount it; the Deployment last, so its pods find everything in place. */
const CHILD_ORDER = ['configMap', 'service', 'pdb', 'deployment'] as const satisfies readonly (keyof DesiredObjects)[];

/**
 * Level-triggered: reconcile(key) reads the model and its children from the informer caches,
 * whatever event brought the key here, builds the desired children, applies those that differ,
 * and writes the status when our part of it changed. Run twice on an unchanged cluster, the
 * second run writes nothing.
 */
export class Reconciler {
  private readonly applier: Applier;
  /** The status last written per model in this term; the cache lags it by a watch event. */
  private readonly written = new Map<string, { uid: string; status: SentimentModelStatus }>();
  /** When each model's own pods were last seen terminating; see SCHEDULER_SETTLE_MS. */
  private readonly releasedAt = new Map<string, number>();
  /** The model's pods that held a node at the last look: one gone since released its GPU too. */
  private readonly boundPods = new Map<string, Set<string>>();
  /**
   * This term's rollout decision per model, from the moment it is made: a reconcile that applies
   * the Deployment and then fails before its status write (a conflict on a later child, say) must
   * not take the retry for a lost status write and report the choice as kept from the Deployment.
   */
  private readonly decided = new Map<string, { uid: string; rollout: RolloutChoice }>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.applier = new Applier(deps.writer);
  }

  childDeleted(modelKey: string, kind: string, name: string): void {
    this.applier.childDeleted(modelKey, kind, name);
  }

  /** Returns, when the status depends on time passing, how many ms later to reconcile again. */
  async reconcile(key: string): Promise<number | undefined> {
    const { caches, events } = this.deps;
    const [namespace = '', name = ''] = key.split('/');
    const model = caches.models.get(name, namespace);
    if (!model || model.metadata.deletionTimestamp) {
      // Children carry owner references, so the garbage collector removes them; nothing to do.
      this.applier.forget(key);
      this.written.delete(key);
      this.releasedAt.delete(key);
      this.decided.delete(key);
      this.boundPods.delete(key);
      this.deps.metrics.setModelConditions(namespace, name);
      return undefined;
    }
    const previous = this.previousStatus(key, model);
    const liveDeployment = caches.deployments.get(childNames(model).deployment, namespace);
    const memo = this.decided.get(key);
    const { desired, rollout } = this.plan(model, memo?.uid === model.metadata.uid ? memo.rollout : previous?.rollout, liveDeployment);
    this.decided.set(key, { uid: model.metadata.uid ?? '', rollout });
    const live = {
      configMap: caches.configMaps.get(desired.configMap.metadata?.name ?? '', namespace),
      service: caches.services.get(desired.service.metadata?.name ?? '', namespace),
      pdb: caches.pdbs.get(desired.pdb.metadata?.name ?? '', namespace),
      deployment: liveDeployment,
    };
    const desiredHash = templateHashOf(desired.deployment);
    const done: Record<ApplyOutcome, string[]> = { created: [], updated: [], unchanged: [] };
    try {
      for (const child of CHILD_ORDER) {
        const outcome = await this.applyChild(key, model, desired[child], live[child]);
        done[outcome].push(`${desired[child].kind} ${desired[child].metadata?.name}`);
      }
    } finally {
      // Announced even when a later child failed, since the next attempt finds these in place and stays quiet.
      // One event per kind of change, not per child, keeps a thousand new models from costing four thousand events.
      if (done.created.length > 0) await events.normal(model, 'Created', `created ${done.created.join(', ')}`);
      if (done.updated.length > 0) await events.normal(model, 'Updated', `updated ${done.updated.join(', ')}`);
      if (done.created.length + done.updated.length > 0) this.deps.log.info({ model: key, created: done.created, updated: done.updated }, 'applied children');
    }
    if (live.deployment && templateHashOf(live.deployment) !== desiredHash && done.updated.some((c) => c.startsWith('Deployment '))) {
      await events.normal(model, 'RolloutStarted', `rolling out pod template ${desiredHash.slice(0, 12)}: runtime ${model.spec.runtime.image}, model ${modelSummary(model.spec.model)}; ${rollout.strategy}: ${rollout.message}`);
    }
    return this.updateStatus(key, model, previous, live.deployment, desired.deployment, rollout);
  }

  /**
   * The children to apply and the rollout strategy they carry. The strategy stays out of the
   * pod-template hash, so the objects are built with the standing strategy first and rebuilt
   * only when a new template's rollout gets another one. Capacity is read only then.
   */
  private plan(model: SentimentModel, previous: RolloutChoice | undefined, live: V1Deployment | undefined): { desired: DesiredObjects; rollout: RolloutChoice } {
    const { cluster, caches } = this.deps;
    const assumed = previous?.strategy ?? 'Surge';
    const draft = desiredObjects(model, { ...cluster, rolloutStrategy: assumed });
    let rollout = standingChoice(model, draft.deployment, previous, live);
    if (!rollout) {
      rollout = decideAuto(model, draft.deployment, caches.nodes, caches.scheduledPods);
      this.deps.log.debug({ model: `${model.metadata.namespace}/${model.metadata.name}`, rollout }, 'chose a rollout strategy');
    }
    return { desired: rollout.strategy === assumed ? draft : desiredObjects(model, { ...cluster, rolloutStrategy: rollout.strategy }), rollout };
  }

  /** This term's last write for the model when there is one, since the cached model lags it; else the cached status. */
  private previousStatus(key: string, model: SentimentModel): SentimentModelStatus | undefined {
    const memo = this.written.get(key);
    return memo?.uid === model.metadata.uid ? memo.status : model.status;
  }

  private async applyChild(key: string, model: SentimentModel, desired: KubernetesObject, live: KubernetesObject | undefined): Promise<ApplyOutcome> {
    try {
      return await this.applier.apply(key, desired, live);
    } catch (err) {
      // A conflict is retried quietly; anything else the user may have to fix (quota, admission), so it is shown.
      const failure = classify(err);
      if (failure !== Failure.Conflict && failure !== Failure.LeadershipLost) {
        await this.deps.events.warning(model, 'ApplyFailed', `applying ${desired.kind} ${desired.metadata?.name}: ${errorMessage(err)}`);
      }
      throw err;
    }
  }

  private async updateStatus(
    key: string, model: SentimentModel, previous: SentimentModelStatus | undefined, deployment: V1Deployment | undefined, desired: V1Deployment, rollout: RolloutChoice,
  ): Promise<number | undefined> {
    const { caches, writer, cluster } = this.deps;
    const { namespace, name, uid } = model.metadata;
    const pods = caches.pods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_MODEL] === name);
    const settleMs = this.schedulerSettleMs(key, pods);
    const status = computeStatus({
      model,
      previous,
      deployment,
      desired: revisionOf(desired.spec?.template.metadata) ?? { templateHash: '' },
      rollout,
      pods,
      schedulerSettling: settleMs !== undefined,
      endpoint: endpoint(model, cluster.clusterDomain),
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    this.deps.metrics.setModelConditions(namespace ?? '', name, status.conditions);
    if (ownedStatusHash(status) === ownedStatusHash(previous)) return settleMs;
    try {
      await writer.applyStatus(model, status);
    } catch (err) {
      if (classify(err) === Failure.NotFound) return undefined; // deleted meanwhile
      throw err;
    }
    this.written.set(key, { uid, status });
    this.deps.log.debug({ model: key, conditions: status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`), rollout: `${rollout.strategy}/${rollout.reason}` }, 'wrote status');
    await this.announce(model, previous, status);
    return settleMs;
  }

  /**
   * While the model's pods terminate, and for SCHEDULER_SETTLE_MS after, the time left, in which
   * a new pod still marked unschedulable may only be waiting for the scheduler to retry it; the
   * model is looked at again when it is up, since nothing else may change by then. A pod that
   * terminated and vanished between two looks counts too: a kubelet (or kwok) that removes pods
   * at once leaves no terminating pod in the cache to see.
   */
  private schedulerSettleMs(key: string, pods: readonly V1Pod[]): number | undefined {
    const now = Date.now();
    const bound = new Set(pods.flatMap((p) => (p.spec?.nodeName && p.metadata?.uid ? [p.metadata.uid] : [])));
    const vanished = [...(this.boundPods.get(key) ?? [])].some((uid) => !bound.has(uid));
    this.boundPods.set(key, bound);
    if (vanished || pods.some((p) => p.metadata?.deletionTimestamp && p.spec?.nodeName)) this.releasedAt.set(key, now);
    const left = (this.releasedAt.get(key) ?? 0) + SCHEDULER_SETTLE_MS - now;
    if (left > 0) return left;
    this.releasedAt.delete(key);
    return undefined;
  }

  /** Events for transitions only, so a steady state records nothing. */
  private async announce(model: SentimentModel, before: SentimentModelStatus | undefined, after: SentimentModelStatus): Promise<void> {
    const cond = (s: SentimentModelStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
    const [wasDegraded, degraded] = [cond(before, ConditionType.Degraded), cond(after, ConditionType.Degraded)];
    if (degraded?.status === 'True' && (wasDegraded?.status !== 'True' || wasDegraded.reason !== degraded.reason)) {
      await this.deps.events.warning(model, degraded.reason, degraded.message);
    }
    // The first choice comes with the model; a later one that differs is news (a GPU rollout without surge, say).
    if (before?.rollout && after.rollout && (before.rollout.strategy !== after.rollout.strategy || before.rollout.reason !== after.rollout.reason)) {
      await this.deps.events.normal(model, 'RolloutStrategy', `${after.rollout.strategy}: ${after.rollout.message}`);
    }
    const [wasReady, ready] = [cond(before, ConditionType.Ready), cond(after, ConditionType.Ready)];
    if (ready?.status === 'True' && wasReady?.status !== 'True') {
      await this.deps.events.normal(model, 'Ready', ready.message);
    }
    // A first rollout ends in the Ready event above; this one marks the end of a later one.
    const progressing = cond(after, ConditionType.Progressing);
    if (progressing?.reason === Reason.RolloutComplete && cond(before, ConditionType.Progressing)?.status === 'True' && wasReady?.status === 'True') {
      await this.deps.events.normal(model, Reason.RolloutComplete, progressing.message);
    }
  }
}

