import type { V1ConfigMap } from '@kubernetes/client-node';
import { Value } from 'typebox/value';
import { stringify } from 'yaml';
import { RuntimeConfig } from '#contract/runtime-config.js';
import { sessionLayout, type SessionLayout } from '#contract/session-layout.js';
import { RUNTIME_HTTP_PORT, RUNTIME_PROBE_PORT, type ModelSource, type SentimentModel } from '../../api/v1alpha1/index.js';
import { drainTiming } from './drain.js';
import { childMeta, childNames } from './names.js';
import { AUTH_TOKEN_PATH } from './auth.js';
import { CONFIG_FILE } from './pod-defaults.js';
import { streamRuntimeConfig } from './stream.js';

/**
 * The runtime config for a model. Only what the spec decides is set here; the runtime's own
 * schema defaults fill the rest, so the file is complete and the runtime reads no hidden defaults.
 */
export function runtimeConfig(model: SentimentModel, modelPath: string): RuntimeConfig {
  const { spec } = model;
  const timing = drainTiming(spec.server);
  const stream = streamRuntimeConfig(model);
  const partial = {
    model: {
      path: modelPath,
      name: model.metadata.name,
      revision: revision(spec.model),
      quantization: spec.quantization,
      maxSequenceLength: spec.maxSequenceLength,
      ...(spec.labels ? { labels: [...spec.labels] } : {}),
    },
    session: {
      executionProvider: spec.runtime.executionProvider,
      ...layoutFor(spec),
    },
    batching: { ...spec.batching },
    cache: { ...spec.cache },
    server: {
      host: '0.0.0.0',
      port: RUNTIME_HTTP_PORT,
      probePort: RUNTIME_PROBE_PORT,
      processes: spec.runtime.processes,
      requestTimeoutMs: spec.server.requestTimeoutMs,
      drainDelayMs: timing.runtimeDrainDelayMs,
      shutdownTimeoutMs: timing.runtimeShutdownTimeoutMs,
      playground: spec.server.playground,
    },
    ...(stream ? { stream } : {}),
    // The path of the mounted Secret only: the token never enters the ConfigMap.
    ...(spec.server.auth ? { auth: { tokenFile: AUTH_TOKEN_PATH, metrics: spec.server.auth.metrics } } : {}),
  };
  return Value.Default(RuntimeConfig, partial) as RuntimeConfig;
}

export function renderRuntimeConfig(config: RuntimeConfig): string {
  return stringify(config, { lineWidth: 0 });
}

export function makeConfigMap(model: SentimentModel, configYaml: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(model, childNames(model).configMap),
    data: { [CONFIG_FILE]: configYaml },
  };
}

/** A short, stable identity of the model bytes; the runtime puts it in cache keys and metrics. */
function revision(source: ModelSource): string {
  if (source.image) {
    const ref = source.image.reference;
    const at = ref.indexOf('@');
    return at >= 0 ? ref.slice(at + 1, at + 1 + 'sha256:'.length + 12) : ref.slice(ref.lastIndexOf(':') + 1);
  }
  if (source.url) return `sha256:${source.url.sha256.slice(0, 12)}`;
  return `pvc:${source.pvc?.claimName ?? ''}`.slice(0, 128);
}

/**
 * onnxruntime sizes its pool by the host's cores, not the container's CPU quota, and oversubscribed
 * threads get throttled; the quota (limit, else request) becomes sessions and threads per serving
 * process. Without one the runtime derives the layout itself from the cgroup it finds.
 */
function layoutFor(spec: SentimentModel['spec']): SessionLayout {
  const cores = coresOf(spec.resources.limits?.cpu ?? spec.resources.requests?.cpu);
  const { intraOpThreads, processes, executionProvider } = spec.runtime;
  if (executionProvider === 'cuda') {
    return { sessions: 1, intraOpThreads: intraOpThreads || (cores ? Math.max(1, Math.floor(cores / processes)) : 0) };
  }
  return cores ? sessionLayout(cores, processes, { sessions: 0, intraOpThreads }) : { sessions: 0, intraOpThreads };
}

function coresOf(cpu: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(cpu ?? '');
  return match ? Number(match[1]) / (match[2] ? 1000 : 1) : undefined;
}
