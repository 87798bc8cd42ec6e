import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_TEMPLATE_HASH, ConditionType, type Condition, type Revision, type RolloutChoice, type SentimentModel, type SentimentModelStatus,
} from '../api/v1alpha1/index.js';
import { templateHashOf } from './resources/deployment.js';
import { stableHash } from './resources/hash.js';
import { modelSummary, selectorString } from './resources/names.js';
import { revisions } from './revisions.js';

/** Machine-readable condition reasons; the Degraded ones double as Warning event reasons. */
export const Reason = {
  Creating: 'Creating',
  RolloutInProgress: 'RolloutInProgress',
  RolloutComplete: 'RolloutComplete',
  RolloutStuck: 'RolloutStuck',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  ReplicasNotReady: 'ReplicasNotReady',
  ScaledToZero: 'ScaledToZero',
  AsExpected: 'AsExpected',
  GPUUnschedulable: 'GPUUnschedulable',
  Unschedulable: 'Unschedulable',
  ImagePullFailed: 'ImagePullFailed',
  ContainerConfigFailed: 'ContainerConfigFailed',
  ModelLoadFailed: 'ModelLoadFailed',
  ApplyFailed: 'ApplyFailed',
  PodCreationFailed: 'PodCreationFailed',
} as const;

export interface StatusInputs {
  model: SentimentModel;
  /** The status as last written, whose conditions keep their lastTransitionTime while unchanged. */
  previous: SentimentModelStatus | undefined;
  /** The live Deployment from the cache; undefined until it exists. */
  deployment: V1Deployment | undefined;
  /** The desired Deployment's pod template; its hash tells a finished rollout from a stale cache. */
  desired: Revision;
  /** The strategy of the desired template's rollout, as strategy.ts chose it. */
  rollout: RolloutChoice;
  /** The model's pods from the cache. */
  pods: readonly V1Pod[];
  /**
   * The model's pods are releasing resources or just did. The scheduler counts a terminating pod's
   * resources until it is gone, and the new pod of a Replace rollout waits for exactly those, so
   * meanwhile an unschedulable pod is waiting, not failing.
   */
  schedulerSettling: boolean;
  endpoint: string;
  /** RFC 3339 time, for conditions that change status now. */
  now: string;
}

interface Problem {
  reason: string;
  message: string;
}

/** Waiting reasons kubelet reports while it cannot get an image. */
const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/** Our part of the status, from the live Deployment and pods; what the autoscaler writes is left out. */
export function computeStatus(i: StatusInputs): SentimentModelStatus {
  const { model, deployment: dep } = i;
  const want = model.spec.replicas;
  const s = dep?.status ?? {};
  const replicas = s.replicas ?? 0;
  const ready = s.readyReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  const liveHash = templateHashOf(dep);
  const current = dep !== undefined && liveHash === i.desired.templateHash && (s.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
  const depCondition = (type: string) => s.conditions?.find((c) => c.type === type);
  const progressing = depCondition('Progressing');
  const stuck = current && progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded';
  const podRevisions = revisions(i.desired, i.pods, want);
  // The pod cache can lag the Deployment's: a rollout is complete only once the pods show the new
  // revision serving too, so no status says RolloutComplete beside an old revision still serving.
  const done = current && updated === want && replicas === want && (s.availableReplicas ?? 0) === want && podRevisions.rollingOutTo === undefined;
  const available = depCondition('Available')?.status === 'True' && ready > 0;
  const fresh = i.pods.filter((p) => !p.metadata?.deletionTimestamp && podHash(p) === i.desired.templateHash);
  // The ReplicaSet could not create pods at all (no such PriorityClass or RuntimeClass, quota, admission):
  // no pod exists to tell the cause, the Deployment's ReplicaFailure condition carries the apiserver's answer.
  const replicaFailure = depCondition('ReplicaFailure');
  const problem = replicaFailure?.status === 'True'
    ? { reason: Reason.PodCreationFailed, message: replicaFailure.message ?? replicaFailure.reason ?? '' }
    : podProblem(model, fresh, i.schedulerSettling);
  const counts = `${ready}/${want} replicas ready, ${updated}/${want} updated`;

  // Past the deadline the pods' problem, when there is one, still names the cause better than the deadline does.
  const deadline = progressing?.message ?? '';
  const degraded: Problem | undefined = stuck
    ? { reason: problem?.reason ?? Reason.RolloutStuck, message: problem ? `${problem.message}; ${deadline}` : deadline }
    : problem;
  let progress: [boolean, Problem];
  if (!dep) progress = [true, { reason: Reason.Creating, message: 'creating the Deployment' }];
  else if (stuck) progress = [false, { reason: Reason.RolloutStuck, message: progressing?.message ?? '' }];
  else if (!done) progress = [true, { reason: Reason.RolloutInProgress, message: counts }];
  else progress = [false, { reason: Reason.RolloutComplete, message: counts }];
  let readiness: [boolean, Problem];
  if (want === 0) readiness = [false, { reason: Reason.ScaledToZero, message: 'spec.replicas is 0' }];
  else if (available) readiness = [true, { reason: Reason.MinimumReplicasAvailable, message: counts }];
  else readiness = [false, degraded ?? (dep ? { reason: Reason.ReplicasNotReady, message: counts } : progress[1])];

  const previous = i.previous?.conditions ?? [];
  const generation = model.metadata.generation ?? 0;
  const condition = (type: string, [status, why]: [boolean, Problem]) => mergeCondition(previous, {
    type, status: status ? 'True' : 'False', observedGeneration: generation, lastTransitionTime: i.now, reason: why.reason, message: why.message,
  });
  const image = model.spec.model.image?.reference;
  return {
    observedGeneration: generation,
    replicas,
    readyReplicas: ready,
    updatedReplicas: updated,
    selector: selectorString(model),
    endpoint: i.endpoint,
    model: modelSummary(model.spec.model),
    images: { runtime: model.spec.runtime.image, ...(image ? { model: image } : {}) },
    // Omitted rather than empty: server-side apply turns an emptied map (the last ready pod gone,
    // a scale to zero) into null, which the schema refuses, and every later status write with it.
    ...(podRevisions.serving || podRevisions.rollingOutTo ? { revisions: podRevisions } : {}),
    rollout: i.rollout,
    conditions: [
      condition(ConditionType.Ready, readiness),
      condition(ConditionType.Progressing, progress),
      condition(ConditionType.Degraded, [degraded !== undefined, degraded ?? { reason: Reason.AsExpected, message: '' }]),
    ],
  };
}

/**
 * The status when the apiserver refused one of the children: the spec cannot be served as
 * written, so Ready and Progressing turn False and Degraded True, all with the apiserver's answer
 * and the generation it answered, whatever the live Deployment (an older one) still shows.
 */
export function withApplyFailure(status: SentimentModelStatus, previous: SentimentModelStatus | undefined, message: string, now: string): SentimentModelStatus {
  // A condition message holds at most 32768 characters; a longer answer would make the status write fail too.
  const problem = { reason: Reason.ApplyFailed, message: message.length > 32_768 ? `${message.slice(0, 32_767)}…` : message };
  const generation = status.observedGeneration;
  const condition = (type: string, value: boolean) => mergeCondition(previous?.conditions ?? [], {
    type, status: value ? 'True' : 'False', observedGeneration: generation, lastTransitionTime: now, ...problem,
  });
  return {
    ...status,
    conditions: [condition(ConditionType.Ready, false), condition(ConditionType.Progressing, false), condition(ConditionType.Degraded, true)],
  };
}

/** lastTransitionTime moves only when the status flips, per the Kubernetes condition conventions. */
function mergeCondition(previous: readonly Condition[], next: Condition): Condition {
  const old = previous.find((c) => c.type === next.type);
  return old && old.status === next.status ? { ...next, lastTransitionTime: old.lastTransitionTime } : next;
}

/** The fields computeStatus owns, so a difference in the autoscaler's fields never triggers a write. */
export function ownedStatusHash(status: SentimentModelStatus | undefined): string {
  if (!status) return '';
  const { observedGeneration, replicas, readyReplicas, updatedReplicas, selector, endpoint, model, images, revisions, rollout, canary, conditions } = status;
  return stableHash({ observedGeneration, replicas, readyReplicas, updatedReplicas, selector, endpoint, model, images, revisions, rollout, canary, conditions });
}

function podHash(pod: V1Pod): string | undefined {
  return pod.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
}

/** The most telling problem among the pods: a pod that cannot start hides whether the others would. */
export function podProblem(model: SentimentModel, pods: readonly V1Pod[], schedulerSettling: boolean): Problem | undefined {
  const unschedulable: string[] = [Reason.GPUUnschedulable, Reason.Unschedulable];
  const found = pods.map((p) => podIssue(model, p)).filter((x): x is Problem => x !== undefined && !(schedulerSettling && unschedulable.includes(x.reason)));
  const rank = [Reason.ModelLoadFailed, Reason.ImagePullFailed, Reason.ContainerConfigFailed, Reason.GPUUnschedulable, Reason.Unschedulable] as string[];
  found.sort((a, b) => rank.indexOf(a.reason) - rank.indexOf(b.reason));
  return found[0];
}

function podIssue(model: SentimentModel, pod: V1Pod): Problem | undefined {
  const name = pod.metadata?.name ?? '';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const gpu = model.spec.resources.gpu;
    const message = scheduled.message ?? '';
    const reason = gpu.count > 0 && message.includes(gpu.resourceName) ? Reason.GPUUnschedulable : Reason.Unschedulable;
    return { reason, message: `pod ${name}: ${message}` };
  }
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
      return { reason: Reason.ImagePullFailed, message: `pod ${name} container ${c.name}: ${waiting.reason}: ${waiting.message ?? ''}`.trim() };
    }
    // The kubelet cannot build the container's environment, e.g. model.url.urlSecretRef names a
    // Secret or key that does not exist; it retries without a crash or an exit code to report.
    if (waiting?.reason === 'CreateContainerConfigError') {
      return { reason: Reason.ContainerConfigFailed, message: `pod ${name} container ${c.name}: ${waiting.reason}: ${waiting.message ?? ''}`.trim() };
    }
  }
  for (const c of statuses) {
    const failure = containerFailure(c);
    if (failure) return { reason: Reason.ModelLoadFailed, message: `pod ${name} container ${c.name}: ${failure}` };
  }
  return undefined;
}

/**
 * A container that exited with an error or crash-loops. The runtime exits non-zero only when it
 * cannot load or serve its model, and the init containers only copy or fetch the model, so any
 * such failure means the model did not load; the termination message says why. Restart counts
 * stay out of the text, since each crash would otherwise rewrite the status. Between two crashes
 * the container runs again, still short of passing its startup probe: the last exit still holds,
 * or Degraded would flip with every restart. Once started, an old exit is history.
 */
function containerFailure(c: V1ContainerStatus): string | undefined {
  const retrying = c.state?.waiting?.reason === 'CrashLoopBackOff' || (c.state?.running !== undefined && c.started !== true && !c.ready);
  const terminated = c.state?.terminated ?? (retrying ? c.lastState?.terminated : undefined);
  if (terminated && terminated.exitCode !== 0) {
    // A message taken from the logs (FallbackToLogsOnError) holds several lines; the last says why.
    const lastLine = terminated.message?.trim().split('\n').at(-1)?.trim();
    const why = [terminated.reason, lastLine].filter(Boolean).join(': ');
    return `exit code ${terminated.exitCode}${why ? ` (${why})` : ''}`;
  }
  if (c.state?.waiting?.reason === 'CrashLoopBackOff') return 'CrashLoopBackOff';
  return undefined;
}
