import type { V1Container, V1Deployment, V1PodTemplateSpec, V1ResourceRequirements, V1RollingUpdateDeployment, V1Toleration } from '@kubernetes/client-node';
import {
  ANNOTATION_MODEL_SOURCE, ANNOTATION_QUANTIZATION, ANNOTATION_RUNTIME_IMAGE, ANNOTATION_TEMPLATE_HASH, RUNTIME_HTTP_PORT, RUNTIME_PROBE_PORT, type RolloutChoice, type SentimentModel, type SentimentModelSpec,
} from '../../api/v1alpha1/index.js';
import { drainTiming } from './drain.js';
import { stableHash } from './hash.js';
import type { ModelDelivery } from './model-delivery.js';
import { childMeta, childNames, labels, modelSummary, selectorLabels } from './names.js';
import { authPodParts } from './auth.js';
import {
  CONFIG_DIR,
  CONFIG_FILE,
  CONTAINER_SECURITY_CONTEXT,
  HTTP_PORT_NAME,
  PROBE_PORT_NAME,
  POD_SECURITY_CONTEXT,
  RUNTIME_ENTRYPOINT,
  RUNTIME_WORKDIR,
  TMP_MOUNT,
  TMP_VOLUME,
} from './pod-defaults.js';
import { streamPodParts } from './stream.js';

const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
/** The taint the NVIDIA GPU operator and most clouds put on GPU nodes. */
const GPU_TOLERATION: V1Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
/** Old ReplicaSets kept per model; the default of 10 adds up to thousands of objects across many models. */
const REVISION_HISTORY_LIMIT = 3;

/**
 * The pod template, carrying its hash. The rollout strategy stays outside it: strategy.ts decides
 * that from this template, and choosing another strategy must not make a new revision.
 */
export function makePodTemplate(model: SentimentModel, delivery: ModelDelivery, configYaml: string): V1PodTemplateSpec {
  const unhashed = podTemplate(model, delivery);
  // The ConfigMap is read only at start, so its content joins the hash: a config change rolls the pods.
  const hash = stableHash({ template: unhashed, configYaml });
  // The revision annotations follow from hashed content (the model source and runtime image are in the
  // template, the quantization in the config), so they stay out of the hash.
  const annotations = { [ANNOTATION_TEMPLATE_HASH]: hash, ...revisionAnnotations(model.spec) };
  return { ...unhashed, metadata: { ...unhashed.metadata, annotations } };
}

export function makeDeployment(model: SentimentModel, template: V1PodTemplateSpec, strategy: RolloutChoice['strategy']): V1Deployment {
  const { spec } = model;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMeta(model, childNames(model).deployment),
    spec: {
      replicas: spec.replicas,
      revisionHistoryLimit: REVISION_HISTORY_LIMIT,
      progressDeadlineSeconds: spec.rollout.progressDeadlineSeconds,
      selector: { matchLabels: selectorLabels(model) },
      strategy: { type: 'RollingUpdate', rollingUpdate: rollingUpdate(spec.rollout, strategy) },
      template,
    },
  };
}

/** The hash a pod template carries; '' when it has none (not ours). */
export function podTemplateHash(template: V1PodTemplateSpec | undefined): string {
  return template?.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH] ?? '';
}

/** The pod-template hash a Deployment carries; '' when it has none (not ours, or not yet applied). */
export function templateHashOf(deployment: V1Deployment | undefined): string {
  return podTemplateHash(deployment?.spec?.template);
}

/**
 * A live Deployment cut down to what the controller reads of it: metadata (the applied hash, the
 * owner), the replicas (which a canary's hold keeps in step), the strategy, the pod-template hash and the status. The pod template, most of the
 * object, is only ever compared through that hash.
 */
export function deploymentForCache(d: V1Deployment): V1Deployment {
  const { metadata, spec, status } = d;
  return {
    metadata,
    spec: spec && { replicas: spec.replicas, selector: spec.selector, strategy: spec.strategy, template: { metadata: { annotations: spec.template?.metadata?.annotations } } },
    status,
  };
}

/** Surge needs room for an extra pod (a spare GPU); Replace frees a pod's resources before its successor starts. */
export function rollingUpdate(rollout: SentimentModelSpec['rollout'], strategy: RolloutChoice['strategy']): V1RollingUpdateDeployment {
  return strategy === 'Surge' ? { maxSurge: rollout.maxSurge, maxUnavailable: 0 } : { maxSurge: 0, maxUnavailable: rollout.maxUnavailable };
}

function revisionAnnotations(spec: SentimentModelSpec): Record<string, string> {
  return {
    [ANNOTATION_MODEL_SOURCE]: modelSummary(spec.model),
    [ANNOTATION_RUNTIME_IMAGE]: spec.runtime.image,
    [ANNOTATION_QUANTIZATION]: spec.quantization,
  };
}

/**
 * The runtime writes its one-line reason to the termination log; a container that dies before it
 * can (or the model-copy init container, which is not ours) still leaves its last log lines.
 */
const TERMINATION_MESSAGE_POLICY = 'FallbackToLogsOnError';

function podTemplate(model: SentimentModel, delivery: ModelDelivery): V1PodTemplateSpec {
  const { spec } = model;
  const timing = drainTiming(spec.server);
  const gpus = spec.resources.gpu;
  const { scheduling } = spec;
  const nodeSelector = { ...scheduling.nodeSelector, ...(gpus.count > 0 && gpus.product ? { [GPU_PRODUCT_LABEL]: gpus.product } : {}) };
  const tolerations = [...(scheduling.tolerations ?? []), ...(gpus.count > 0 ? [GPU_TOLERATION] : [])];
  // The probe port's own thread answers even while the serving port's event loop is saturated.
  const probe = (path: string) => ({ httpGet: { path, port: PROBE_PORT_NAME } });
  const stream = streamPodParts(model);
  const auth = authPodParts(model);

  const runtime: V1Container = {
    name: 'runtime',
    image: spec.runtime.image,
    imagePullPolicy: spec.runtime.imagePullPolicy,
    workingDir: RUNTIME_WORKDIR,
    command: [...RUNTIME_ENTRYPOINT, 'serve', '--config', `${CONFIG_DIR}/${CONFIG_FILE}`],
    ports: [
      { name: HTTP_PORT_NAME, containerPort: RUNTIME_HTTP_PORT, protocol: 'TCP' },
      { name: PROBE_PORT_NAME, containerPort: RUNTIME_PROBE_PORT, protocol: 'TCP' },
    ],
    ...(stream.env.length > 0 ? { env: stream.env } : {}),
    resources: containerResources(spec.resources, true),
    // Startup allows 10 minutes for loading and warming a model; afterwards readiness reacts in ~5 s.
    // Probed every second: a pod joins its Service at most a second after it can serve, where a
    // 5 s period left a cold start waiting up to 5 s for the kubelet's next look (3.7 s of 6.3 s
    // measured on the real node). The probe port's own thread answers, so the rate costs no serving.
    startupProbe: { ...probe('/readyz'), periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 600 },
    readinessProbe: { ...probe('/readyz'), periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 5 },
    livenessProbe: { ...probe('/healthz'), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    ...(timing.preStopSleepSeconds > 0 ? { lifecycle: { preStop: { sleep: { seconds: timing.preStopSleepSeconds } } } } : {}),
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      TMP_MOUNT,
      delivery.mount,
      ...auth.mounts,
      ...stream.mounts,
    ],
    securityContext: CONTAINER_SECURITY_CONTEXT,
    terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
  };
  // Init containers borrow the runtime's CPU and memory: the pod reserves the larger of init and
  // main containers anyway, and equal values keep a Guaranteed QoS class Guaranteed.
  const initContainers = delivery.initContainers.map((c) => ({
    ...c,
    resources: containerResources(spec.resources, false),
    securityContext: CONTAINER_SECURITY_CONTEXT,
    terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
  }));

  return {
    metadata: { labels: labels(model) },
    spec: {
      // The runtime never talks to the apiserver, and service env vars from thousands of models would bloat every pod.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: POD_SECURITY_CONTEXT,
      terminationGracePeriodSeconds: timing.terminationGracePeriodSeconds,
      ...(scheduling.priorityClassName ? { priorityClassName: scheduling.priorityClassName } : {}),
      ...(scheduling.runtimeClassName ? { runtimeClassName: scheduling.runtimeClassName } : {}),
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(tolerations.length > 0 ? { tolerations } : {}),
      ...(scheduling.affinity ? { affinity: scheduling.affinity } : {}),
      ...(initContainers.length > 0 ? { initContainers } : {}),
      containers: [runtime],
      volumes: [
        { name: 'config', configMap: { name: childNames(model).configMap } },
        TMP_VOLUME,
        ...delivery.volumes,
        ...auth.volumes,
        ...stream.volumes,
      ],
    },
  };
}

function containerResources(resources: SentimentModelSpec['resources'], withGpu: boolean): V1ResourceRequirements {
  const { requests, limits, gpu } = resources;
  // Extended resources go in limits only; the apiserver defaults the request to the limit.
  const gpuLimit = withGpu && gpu.count > 0 ? { [gpu.resourceName]: String(gpu.count) } : {};
  const allLimits = { ...limits, ...gpuLimit };
  return {
    ...(requests && Object.keys(requests).length > 0 ? { requests: { ...requests } } : {}),
    ...(Object.keys(allLimits).length > 0 ? { limits: allLimits } : {}),
  };
}
