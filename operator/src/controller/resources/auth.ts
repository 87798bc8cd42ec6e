import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { SentimentModel } from '../../api/v1alpha1/index.js';
import { SECRET_FILE_MODE } from './pod-defaults.js';

/** Where the auth token Secret is mounted: a directory the kubelet updates when the Secret changes (a subPath mount would not be). */
const AUTH_DIR = '/etc/sentiment-runtime-auth';
const AUTH_TOKEN_FILE = 'token';
const AUTH_VOLUME = 'auth-token';

/** auth.tokenFile in the runtime config. */
export const AUTH_TOKEN_PATH = `${AUTH_DIR}/${AUTH_TOKEN_FILE}`;

/**
 * What spec.server.auth adds to the pod: the token Secret's volume and its mount. Only the
 * Secret's name and key enter the template (and its hash): a rotated token reaches the running
 * pods through the volume, without a rollout.
 */
export function authPodParts(model: SentimentModel): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const auth = model.spec.server.auth;
  if (!auth) return { volumes: [], mounts: [] };
  const { name, key } = auth.tokenSecretRef;
  return {
    volumes: [{ name: AUTH_VOLUME, secret: { secretName: name, items: [{ key, path: AUTH_TOKEN_FILE }], defaultMode: SECRET_FILE_MODE } }],
    mounts: [{ name: AUTH_VOLUME, mountPath: AUTH_DIR, readOnly: true }],
  };
}
