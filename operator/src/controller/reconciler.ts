import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ConditionType, LABEL_MODEL, metaTime, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import { classify, errorMessage, Failure } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeWriter } from '../kube/writer.js';
import type { OperatorMetrics } from '../metrics.js';
import { CANARY_LABEL } from '#contract/canary.js';
import type { StepKey } from '../canary/scrape.js';
import { Applier, type ApplyOutcome } from './apply.js';
import { decideCanary, trafficShares, type CanaryDecision, type StepFigures } from './canary.js';
import { canaryNames, candidateReplicas, isCanaryPod, makeCanaryObjects } from './resources/canary.js';
import { desiredDraft } from './resources/desired.js';
import { describeDrift } from './drift.js';
import type { Caches } from './informers.js';
import { Memory, type ModelMemory } from './memory.js';
import { plan, type Observed, type Plan } from './plan.js';
import { revisionOf } from './revisions.js';
import { templateHashOf } from './resources/deployment.js';
import type { DesiredObjects } from './resources/desired.js';
import type { ClusterFacts } from './resources/facts.js';
import { childNames, modelSummary } from './resources/names.js';
import { ownedStatusHash, Reason, withApplyFailure } from './status.js';

export interface ReconcilerDeps {
  caches: Caches;
  writer: KubeWriter;
  events: EventRecorder;
  metrics: Pick<OperatorMetrics, 'setModelConditions' | 'driftCorrections' | 'canaryRollbacks' | 'canaryPromotions'>;
  /** A canary step's figures from the routers; undefined while they cannot all be read. */
  canaryFigures(key: StepKey): Promise<StepFigures | undefined>;
  cluster: ClusterFacts;
  log: Logger;
  /** Epoch milliseconds: the one clock the plans see. */
  clock(): number;
}

/** The apiserver refused a child: the status says why, then `cause` goes to the work queue's backoff. */
class ChildRefused extends Error {
  override name = 'ChildRefused';
}

/** The ConfigMap goes first because the pods mount it; the Deployment last, so its pods find everything in place. */
const CHILD_ORDER = ['configMap', 'service', 'pdb', 'deployment'] as const satisfies readonly (keyof DesiredObjects)[];

/**
 * Level-triggered: reconcile(key) reads the model and its children from the informer caches,
 * whatever event brought the key here, has plan() decide, applies the children that differ, and
 * writes the status when our part of it changed. Run twice on an unchanged cluster, the second
 * run writes nothing.
 */
export class Reconciler {
  private readonly applier: Applier;
  private readonly memory = new Memory();

  constructor(private readonly deps: ReconcilerDeps) {
    this.applier = new Applier(deps.writer);
  }

  childDeleted(modelKey: string, kind: string, name: string): void {
    this.memory.childDeleted(modelKey, kind, name);
  }

  /** Returns, when the status depends on time passing, how many ms later to reconcile again. */
  async reconcile(key: string): Promise<number | undefined> {
    const { caches, cluster } = this.deps;
    const [namespace = '', name = ''] = key.split('/');
    const model = caches.models.get(name, namespace);
    if (!model || model.metadata.deletionTimestamp) {
      // Children carry owner references, so the garbage collector removes them; nothing to do.
      this.memory.forget(key);
      this.deps.metrics.setModelConditions(namespace, name);
      return undefined;
    }
    const memory = this.memory.of(key, model.metadata.uid);
    const previous = memory.status ?? model.status;
    const observed: Observed = {
      ...cluster,
      deployment: caches.deployments.get(childNames(model).deployment, namespace),
      pods: caches.pods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_MODEL] === name && !isCanaryPod(p.metadata.labels)),
      nodes: caches.nodes,
      scheduledPods: caches.scheduledPods,
    };
    const before = { status: previous, rollout: memory.rollout ?? previous?.rollout, settle: memory.settle };
    const now = this.deps.clock();
    const specPlan = plan(model, observed, before, now);
    const canary = await this.decideCanary(model, specPlan, observed.deployment, previous, now);
    const stable = revisionOf(observed.deployment?.spec?.template?.metadata);
    // Held, the stable Deployment keeps its template, and the status describes that revision, not the spec's.
    const next = withCanary(model, canary.hold && stable ? { ...specPlan, status: specPlan.statusHolding(stable) } : specPlan, canary);
    if (next.rollout.templateHash !== memory.rollout?.templateHash) this.deps.log.debug({ model: key, rollout: next.rollout }, 'rollout strategy for a new pod template');
    memory.rollout = next.rollout;
    const refused = await this.applyChildren(key, model, memory, next, observed.deployment, canary).then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof ChildRefused) return err;
        throw err;
      },
    );
    memory.settle = next.settle;
    const status = refused ? withApplyFailure(next.status, previous, refused.message, metaTime(this.deps.clock())) : next.status;
    const deleted = await this.writeStatus(key, model, memory, previous, { ...next, status });
    if (refused && !deleted) throw refused.cause;
    if (!deleted && !refused) await this.announceCanary(model, canary);
    if (deleted) return undefined;
    const rechecks = [next.recheckAfterMs, canary.recheckAfterMs].filter((ms) => ms !== undefined);
    return rechecks.length > 0 ? Math.min(...rechecks) : undefined;
  }

  private async decideCanary(model: SentimentModel, specPlan: Plan, live: V1Deployment | undefined, previous: SentimentModelStatus | undefined, now: number): Promise<CanaryDecision> {
    const desired = revisionOf(specPlan.desired.deployment.spec?.template?.metadata) ?? { templateHash: '' };
    const last = previous?.canary;
    const { namespace, name } = model.metadata;
    const analyzing = model.spec.rollout.canary && last?.phase === 'Analyzing' && last.revision === desired.templateHash;
    const figures = analyzing ? await this.deps.canaryFigures({ namespace, model: name, revision: last.revision, step: last.step }) : undefined;
    return decideCanary({
      canary: model.spec.rollout.canary, previous: last, desired, stableHash: templateHashOf(live),
      servingHash: specPlan.status.revisions?.serving?.templateHash, figures, now: metaTime(now), deadlineSeconds: model.spec.rollout.progressDeadlineSeconds,
    });
  }

  /** After the status that records it is written, so a failed write does not announce twice. */
  private async announceCanary(model: SentimentModel, canary: CanaryDecision): Promise<void> {
    const { namespace, name } = model.metadata;
    if (canary.outcome && 'rolledBack' in canary.outcome) this.deps.metrics.canaryRollbacks.inc({ namespace, name, check: canary.outcome.rolledBack });
    if (canary.outcome && 'promoted' in canary.outcome) this.deps.metrics.canaryPromotions.inc({ namespace, name });
    if (!canary.event) return;
    this.deps.log.info({ model: `${namespace}/${name}`, reason: canary.event.reason, message: canary.event.message }, 'canary');
    if (canary.event.type === 'Warning') await this.deps.events.warning(model, canary.event.reason, canary.event.message);
    else await this.deps.events.normal(model, canary.event.reason, canary.event.message);
  }

  /** The candidate's objects: applied for the step under way, deleted once no step runs. */
  private async applyCanary(model: SentimentModel, memory: ModelMemory, canary: CanaryDecision): Promise<void> {
    const { caches, cluster } = this.deps;
    const { namespace } = model.metadata;
    const step = canary.run;
    const names = canaryNames(model);
    const live = {
      configMap: caches.configMaps.get(names.configMap, namespace),
      service: caches.services.get(names.service, namespace),
      deployment: caches.deployments.get(names.deployment, namespace),
    };
    // Most models never run a canary: nothing to build, nothing to look at.
    if (!step && !live.configMap && !live.service && !live.deployment) return;
    const objects = makeCanaryObjects(model, desiredDraft(model, cluster), step ? candidateReplicas(model, step) : 0);
    // `<model>-canary` may be another model's name: only a candidate this model owns is written or deleted.
    const ours = (o: KubernetesObject | undefined) => o?.metadata?.labels?.[CANARY_LABEL] === 'true' && o.metadata.ownerReferences?.some((r) => r.uid === model.metadata.uid);
    for (const child of ['configMap', 'service', 'deployment'] as const) {
      const found = live[child];
      if (found && !ours(found)) {
        const message = `applying ${objects[child].kind} ${objects[child].metadata?.name}: it exists and is not this model's canary candidate`;
        if (step) throw new ChildRefused(message, { cause: new Error(message) });
        continue;
      }
      if (step) await this.applyChild(model, memory, objects[child], found);
      else if (found && !found.metadata?.deletionTimestamp) await this.deps.writer.delete(objects[child]);
    }
  }

  private async applyChildren(key: string, model: SentimentModel, memory: ModelMemory, next: Plan, liveDeployment: V1Deployment | undefined, canary: CanaryDecision): Promise<void> {
    const { caches, events } = this.deps;
    const { desired, rollout } = next;
    const { namespace } = model.metadata;
    const live = {
      configMap: caches.configMaps.get(desired.configMap.metadata?.name ?? '', namespace),
      service: caches.services.get(desired.service.metadata?.name ?? '', namespace),
      pdb: caches.pdbs.get(desired.pdb.metadata?.name ?? '', namespace),
      deployment: liveDeployment,
    };
    const done: Record<ApplyOutcome, string[]> = { created: [], updated: [], corrected: [], unchanged: [] };
    try {
      for (const child of CHILD_ORDER) {
        // The stable pods read their ConfigMap at start: a held revision keeps both as they are.
        if (canary.hold && (child === 'configMap' || child === 'deployment')) continue;
        const outcome = await this.applyChild(model, memory, desired[child], live[child]);
        done[outcome].push(`${desired[child].kind} ${desired[child].metadata?.name}`);
      }
    } finally {
      // Announced even when a later child failed, since the next attempt finds these in place and stays quiet.
      // One event per kind of change, not per child, keeps a thousand new models from costing four thousand events.
      if (done.created.length > 0) await events.normal(model, 'Created', `created ${done.created.join(', ')}`);
      if (done.updated.length > 0) await events.normal(model, 'Updated', `updated ${done.updated.join(', ')}`);
      if (done.created.length + done.updated.length + done.corrected.length > 0) {
        this.deps.log.info({ model: key, created: done.created, updated: done.updated, corrected: done.corrected }, 'applied children');
      }
    }
    await this.applyCanary(model, memory, canary);
    const replicas = desired.deployment.spec?.replicas;
    if (canary.hold && liveDeployment && liveDeployment.spec?.replicas !== replicas) {
      // Held on its template, the stable Deployment still follows spec.replicas (the autoscaler's, say).
      await this.deps.writer.patch(desired.deployment, [{ op: 'replace', path: '/spec/replicas', value: replicas }]);
    }
    const desiredHash = templateHashOf(desired.deployment);
    const deploymentApplied = [...done.updated, ...done.corrected].some((c) => c.startsWith('Deployment '));
    if (liveDeployment && templateHashOf(liveDeployment) !== desiredHash && deploymentApplied) {
      await events.normal(model, 'RolloutStarted', `rolling out pod template ${desiredHash.slice(0, 12)}: runtime ${model.spec.runtime.image}, model ${modelSummary(model.spec.model)}; ${rollout.strategy}: ${rollout.message}`);
    }
  }

  private async applyChild(model: SentimentModel, memory: ModelMemory, desired: KubernetesObject, live: KubernetesObject | undefined): Promise<ApplyOutcome> {
    try {
      const { outcome, drift } = await this.applier.apply(memory.applied, desired, live);
      if (drift) {
        // Someone edited what the operator owns (by hand, a script, an attacker): say what was put back and who had changed it.
        const child = `${desired.kind} ${desired.metadata?.name}`;
        this.deps.metrics.driftCorrections.inc({ kind: desired.kind ?? '' });
        this.deps.log.warn({ model: `${model.metadata.namespace}/${model.metadata.name}`, child, changed: drift.changed, added: drift.added }, 'reverted changes to a child');
        await this.deps.events.warning(model, 'DriftCorrected', `reverted ${child}: ${describeDrift(drift)}`);
      }
      return outcome;
    } catch (err) {
      // A refusal (validation, admission, quota, RBAC) is for the user to fix, so the status shows it and the
      // Degraded transition brings its Warning event (announce()); a conflict or a transient failure is only retried.
      if (classify(err) !== Failure.Refused) throw err;
      throw new ChildRefused(`applying ${desired.kind} ${desired.metadata?.name}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Returns true when the model turned out to be deleted meanwhile. */
  private async writeStatus(key: string, model: SentimentModel, memory: ModelMemory, previous: SentimentModelStatus | undefined, next: Plan): Promise<boolean> {
    const { namespace, name } = model.metadata;
    const { status, rollout } = next;
    this.deps.metrics.setModelConditions(namespace, name, status.conditions);
    if (ownedStatusHash(status) === ownedStatusHash(previous)) return false;
    try {
      await this.deps.writer.applyStatus(model, status);
    } catch (err) {
      if (classify(err) === Failure.NotFound) return true;
      throw err;
    }
    memory.status = status;
    this.deps.log.debug({ model: key, conditions: status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`), rollout: `${rollout.strategy}/${rollout.reason}` }, 'wrote status');
    await this.announce(model, previous, status);
    return false;
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


/** The plan's status with the canary's part: status.canary, and each revision's traffic share while one runs. */
function withCanary(model: SentimentModel, next: Plan, canary: CanaryDecision): Plan {
  const { canary: _, ...status } = next.status;
  const shares = trafficShares(model.spec.rollout.canary, canary.status);
  const candidate = canary.status && { templateHash: canary.status.revision, ...(canary.status.model !== undefined ? { model: canary.status.model } : {}) };
  const revisions = shares && candidate
    ? {
        ...status.revisions,
        ...(status.revisions?.serving ? { serving: { ...status.revisions.serving, trafficPercent: shares.serving } } : {}),
        candidate: { ...candidate, ...shares.candidate },
      }
    : status.revisions;
  return { ...next, status: { ...status, ...(revisions ? { revisions } : {}), ...(canary.status ? { canary: canary.status } : {}) } };
}
