import { posix } from 'node:path';
import type { V1Container, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { SentimentModel } from '../../api/v1alpha1/index.js';
import type { ClusterFacts } from './facts.js';
import { RUNTIME_ENTRYPOINT, RUNTIME_WORKDIR, TMP_MOUNT } from './pod-defaults.js';

const MODEL_ROOT = '/models';
/** Where copied or downloaded models land; not the mount point itself, so a tool may create it. */
const MODEL_COPY_DIR = `${MODEL_ROOT}/model`;
const VOLUME = 'model';

/** How the model reaches the runtime container. Init containers get resources and security context from the Deployment. */
export interface ModelDelivery {
  /** model.path in the runtime config. */
  path: string;
  volume: V1Volume;
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
      volume: { name: VOLUME, image: { reference: image.reference, pullPolicy: 'IfNotPresent' } },
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
      volume: scratch,
      mount,
      initContainers: [
        { name: 'model-copy', image: image.reference, imagePullPolicy: 'IfNotPresent', command: ['cp', '-R', from, MODEL_COPY_DIR], volumeMounts: [writable] },
      ],
    };
  }
  if (pvc) {
    return {
      path: posix.join(MODEL_ROOT, pvc.path),
      volume: { name: VOLUME, persistentVolumeClaim: { claimName: pvc.claimName, readOnly: pvc.readOnly } },
      mount: { ...mount, readOnly: pvc.readOnly },
      initContainers: [],
    };
  }
  if (url) {
    const runtime = model.spec.runtime;
    return {
      path: MODEL_COPY_DIR,
      volume: scratch,
      mount,
      initContainers: [
        {
          name: 'model-fetch',
          image: runtime.image,
          imagePullPolicy: runtime.imagePullPolicy,
          workingDir: RUNTIME_WORKDIR,
          command: [...RUNTIME_ENTRYPOINT, 'fetch', '--url', url.url, '--sha256', url.sha256, '--dest', MODEL_COPY_DIR],
          volumeMounts: [writable, TMP_MOUNT],
        },
      ],
    };
  }
  // Unreachable for stored objects: the CRD requires exactly one source.
  throw new Error(`SentimentModel ${model.metadata.namespace}/${model.metadata.name} has no model source`);
}
