// The end-to-end suite (suite.ts) on k3s in a container (testcontainers), for hosts with a container
// engine: build the operator, runtime and model images from this checkout with BuildKit, import
// them into k3s (so pods never pull: pullPolicy Never), install the chart pointed at them.
// Run with `npm run test:e2e` on a machine with Docker, or Podman's Docker-compatible socket.
import { join } from 'node:path';
import { k8sBinDir } from '../support/controlplane.js';
import { startCluster } from './cluster.js';
import { buildImage, IMAGES, stageBuildContext } from './images.js';
import { defineE2eSuite, V1, V2 } from './suite.js';

defineE2eSuite('end to end on k3s: Helm chart, sample model, Service, version bump', async () => {
  const context = stageBuildContext();
  try {
    await buildImage(context.dir, 'Dockerfile.operator', IMAGES.operator);
    await buildImage(context.dir, 'Dockerfile.runtime', IMAGES.runtime, { VARIANT: 'cpu' });
    for (const version of [V1, V2]) {
      await buildImage(context.dir, 'hack/model-image/Dockerfile', IMAGES.model(version), {
        MODEL_DIR: 'models/sst2-bert-mini-en', MODEL_NAME: 'sst2-bert-mini-en', MODEL_REVISION: version, MODEL_QUANTIZATION: 'int8',
      });
    }
  } finally {
    context.remove();
  }
  const cluster = await startCluster([IMAGES.operator, IMAGES.runtime, IMAGES.model(V1), IMAGES.model(V2)]);
  const [repository, tag] = IMAGES.operator.split(/:(?=[^:/]+$)/) as [string, string];
  return {
    kubeConfig: cluster.kubeConfig,
    kubeconfigPath: cluster.kubeconfigPath,
    kubectl: join(k8sBinDir(), 'kubectl'),
    helm: cluster.helm,
    images: IMAGES,
    pullPolicy: 'Never',
    // The Services' ClusterIPs live inside the k3s container's network.
    hostReachesServices: false,
    chartValues: ['--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never'],
    report: (name, value) => console.log(`e2e figure: ${name}: ${value}`),
    stop: cluster.stop,
  };
});
