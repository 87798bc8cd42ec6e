import type { ObjectCache, V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { metaTime, type Revision, type RolloutChoice, type SentimentModel, type SentimentModelStatus } from '../api/v1alpha1/index.js';
import type { Settle } from './memory.js';
import { desiredDraft, withStrategy, type DesiredObjects } from './resources/desired.js';
import type { ClusterFacts } from './resources/facts.js';
import { endpoint } from './resources/names.js';
import { revisionOf } from './revisions.js';
import { computeStatus } from './status.js';
import { decideAuto, standingChoice } from './strategy.js';

/**
 * How long after the model's pods last released resources (terminated) the scheduler may still
 * take to retry the pods that waited for them: its per-pod backoff reaches 10 s.
 */
export const SCHEDULER_SETTLE_MS = 12_000;

/** The cluster as the informer caches show it, for one model. */
export interface Observed extends ClusterFacts {
  /** The live Deployment; undefined until it exists. */
  deployment: V1Deployment | undefined;
  /** The model's pods. */
  pods: readonly V1Pod[];
  /** Every node and every pod bound to one; listed only to decide an Auto rollout of a GPU model. */
  nodes: Pick<ObjectCache<V1Node>, 'list'>;
  scheduledPods: Pick<ObjectCache<V1Pod>, 'list'>;
}

/** What earlier reconciles left that the plan builds on. */
export interface Previous {
  /** The status as last written (this term's write, else the cached one): conditions keep their transition times. */
  status: SentimentModelStatus | undefined;
  /** The rollout strategy in force and why: this term's decision, else the one in status. */
  rollout: RolloutChoice | undefined;
  settle: Settle;
}

export interface Plan {
  /** The children to apply. */
  desired: DesiredObjects;
  /** The strategy the Deployment carries, for status.rollout. */
  rollout: RolloutChoice;
  /** Our part of the status. */
  status: SentimentModelStatus;
  /** The status while a canary holds the stable Deployment on `held`: it describes that revision, not the spec's. */
  statusHolding(held: Revision): SentimentModelStatus;
  /** To remember once the children are applied. */
  settle: Settle;
  /** The status depends on time passing: look again this many ms later, when nothing else may prompt it. */
  recheckAfterMs?: number;
}

/**
 * One reconcile's decisions, with no I/O and no clock: the desired children, their rollout
 * strategy, the status and when to look again. The reconciler reads the caches, calls this and
 * carries out the result, so every decision here is table-tested without a cluster.
 */
export function plan(model: SentimentModel, observed: Observed, previous: Previous, now: number): Plan {
  const draft = desiredDraft(model, observed);
  const rollout = standingChoice(model, draft.podTemplate, previous.rollout, observed.deployment)
    ?? decideAuto(model, draft.podTemplate, observed.nodes, observed.scheduledPods);
  const desired = withStrategy(model, draft, rollout.strategy);
  const { settle, leftMs } = schedulerSettle(previous.settle, observed.pods, now);
  const statusFor = (revision: Revision): SentimentModelStatus => computeStatus({
    model,
    previous: previous.status,
    deployment: observed.deployment,
    desired: revision,
    rollout,
    pods: observed.pods,
    schedulerSettling: leftMs !== undefined,
    endpoint: endpoint(model, observed.clusterDomain),
    now: metaTime(now),
  });
  const status = statusFor(revisionOf(draft.podTemplate.metadata) ?? { templateHash: '' });
  return { desired, rollout, status, statusHolding: statusFor, settle, ...(leftMs !== undefined ? { recheckAfterMs: leftMs } : {}) };
}

/**
 * While the model's pods terminate, and for SCHEDULER_SETTLE_MS after, the time left, in which a
 * new pod still marked unschedulable may only be waiting for the scheduler to retry it. A pod that
 * terminated and vanished between two looks counts too: a kubelet (or kwok) that removes pods at
 * once leaves no terminating pod in the cache to see.
 */
function schedulerSettle(previous: Settle, pods: readonly V1Pod[], now: number): { settle: Settle; leftMs?: number } {
  const boundPods = new Set(pods.flatMap((p) => (p.spec?.nodeName && p.metadata?.uid ? [p.metadata.uid] : [])));
  const vanished = [...previous.boundPods].some((uid) => !boundPods.has(uid));
  const releasing = vanished || pods.some((p) => p.metadata?.deletionTimestamp && p.spec?.nodeName);
  const releasedAt = releasing ? now : previous.releasedAt;
  const leftMs = releasedAt === undefined ? 0 : releasedAt + SCHEDULER_SETTLE_MS - now;
  return leftMs > 0 ? { settle: { boundPods, releasedAt }, leftMs } : { settle: { boundPods } };
}
