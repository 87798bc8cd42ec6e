import type { V1PodSecurityContext, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';

/** The runtime image's layout: the compiled runtime lives under /app. */
export const RUNTIME_WORKDIR = '/app';
export const RUNTIME_ENTRYPOINT = ['node', 'dist/runtime/src/main.js'];
export const HTTP_PORT_NAME = 'http';
export const PROBE_PORT_NAME = 'probe';
export const CONFIG_DIR = '/etc/sentiment-runtime';
export const CONFIG_FILE = 'config.yaml';

/** The distroless "nonroot" user; fixed so files in model images and volumes can be made readable to it. */
const NONROOT = 65532;

// The "restricted" Pod Security Standard, so models run in namespaces that enforce it.
export const POD_SECURITY_CONTEXT: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: NONROOT,
  runAsGroup: NONROOT,
  fsGroup: NONROOT,
  seccompProfile: { type: 'RuntimeDefault' },
};

export const CONTAINER_SECURITY_CONTEXT: V1SecurityContext = {
  runAsNonRoot: true,
  runAsUser: NONROOT,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Mode of every mounted Secret's files: readable by the pod's group (fsGroup) only, since they hold credentials. */
export const SECRET_FILE_MODE = 0o440;

/** Writable scratch space, since the root filesystem is read-only. */
export const TMP_VOLUME: V1Volume = { name: 'tmp', emptyDir: {} };
export const TMP_MOUNT: V1VolumeMount = { name: 'tmp', mountPath: '/tmp' };
