import { posix } from 'node:path';
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { FETCH_URL_ENV } from '#contract/model-fetch.js';
import type { SentimentModel, UrlSource } from '../../api/v1alpha1/index.js';
import type { ClusterFacts } from './facts.js';
import { RUNTIME_ENTRYPOINT, RUNTIME_WORKDIR, SECRET_FILE_MODE, TMP_MOUNT } from './pod-defaults.js';

const MODEL_ROOT = '/models';
/** Where copied or downloaded models land; not the mount point itself, so a tool may create it. */
const MODEL_COPY_DIR = `${MODEL_ROOT}/model`;
const VOLUME = 'model';
/** Where the fetch init container finds the headers Secret and the CA ConfigMap. */
const HEADERS_DIR = '/var/run/sentiment-runtime/model-headers';
const CA_DIR = '/var/run/sentiment-runtime/model-ca';
const CA_FILE = 'ca.crt';

/** How the model reaches the runtime container. Init containers get resources and security context from the Deployment. */
export interface ModelDelivery {
  /** model.path in the runtime config. */
  path: string;
  /** The model's volume first, then any the init containers alone mount. */
  volumes: V1Volume[];
  mount: V1VolumeMount;
  initContainers: V1Container[];
}

export function modelDelivery(model: SentimentModel, cluster: Pick<ClusterFacts, 'imageVolumes'>): ModelDelivery {
  const { image, pvc, url } = model.spec.model;
  const mount = { name: VOLUME, mountPath: MODEL_ROOT, readOnly: true };
  const scratch: V1Volume = { name: VOLUME, emptyDir: {} };
  const writable = { name: VOLUME, mountPath: MODEL_ROOT };

  if (image && cluster.imageVolumes) {
    // A pinned reference never changes content, so a cached pull is always correct.
    return {
      path: posix.join(MODEL_ROOT, image.path),
      volumes: [{ name: VOLUME, image: { reference: image.reference, pullPolicy: 'IfNotPresent' } }],
      mount,
      initContainers: [],
    };
  }
  if (image) {
    // Without image volumes the only way to read another image is to run it. This needs a `cp`
    // in the model image (e.g. a busybox or distroless:debug base); `src/.` makes a rerun after a
    // pod-sandbox restart overwrite the copy instead of nesting a second one inside it.
    const from = `${image.path.replace(/\/+$/, '')}/.`;
    return {
      path: MODEL_COPY_DIR,
      volumes: [scratch],
      mount,
      initContainers: [
        { name: 'model-copy', image: image.reference, imagePullPolicy: 'IfNotPresent', command: ['cp', '-R', from, MODEL_COPY_DIR], volumeMounts: [writable] },
      ],
    };
  }
  if (pvc) {
    return {
      path: posix.join(MODEL_ROOT, pvc.path),
      volumes: [{ name: VOLUME, persistentVolumeClaim: { claimName: pvc.claimName, readOnly: pvc.readOnly } }],
      mount: { ...mount, readOnly: pvc.readOnly },
      initContainers: [],
    };
  }
  if (url) {
    const runtime = model.spec.runtime;
    const fetch = fetchInputs(url);
    return {
      path: MODEL_COPY_DIR,
      volumes: [scratch, ...fetch.volumes],
      mount,
      initContainers: [
        {
          name: 'model-fetch',
          image: runtime.image,
          imagePullPolicy: runtime.imagePullPolicy,
          workingDir: RUNTIME_WORKDIR,
          command: [...RUNTIME_ENTRYPOINT, 'fetch', '--sha256', url.sha256, '--dest', MODEL_COPY_DIR, ...fetch.args],
          env: [fetch.url],
          volumeMounts: [writable, TMP_MOUNT, ...fetch.mounts],
        },
      ],
    };
  }
  // Unreachable for stored objects: the CRD requires exactly one source.
  throw new Error(`SentimentModel ${model.metadata.namespace}/${model.metadata.name} has no model source`);
}

/**
 * The URL, headers and CA reach the fetch init container through the environment and mounted
 * volumes, never its arguments. Secret values are the kubelet's to inject: the operator only
 * names them, so it needs no permission to read Secrets and they never enter the pod template or
 * its hash (sha256 is the model's identity; a rotated presigned URL rolls nothing).
 */
function fetchInputs(url: UrlSource): { url: V1EnvVar; args: string[]; volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const { urlSecretRef, headersSecretRef, caConfigMapRef } = url;
  const env: V1EnvVar = urlSecretRef
    ? { name: FETCH_URL_ENV, valueFrom: { secretKeyRef: { name: urlSecretRef.name, key: urlSecretRef.key } } }
    : { name: FETCH_URL_ENV, value: url.url ?? '' };
  const args: string[] = [];
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (headersSecretRef) {
    args.push('--headers-dir', HEADERS_DIR);
    volumes.push({ name: 'model-headers', secret: { secretName: headersSecretRef.name, defaultMode: SECRET_FILE_MODE } });
    mounts.push({ name: 'model-headers', mountPath: HEADERS_DIR, readOnly: true });
  }
  if (caConfigMapRef) {
    args.push('--ca-file', `${CA_DIR}/${CA_FILE}`);
    volumes.push({ name: 'model-ca', configMap: { name: caConfigMapRef.name, items: [{ key: caConfigMapRef.key, path: CA_FILE }] } });
    mounts.push({ name: 'model-ca', mountPath: CA_DIR, readOnly: true });
  }
  return { url: env, args, volumes, mounts };
}
