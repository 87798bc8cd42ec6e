// The end-to-end suite (suite.ts) on a real one-node cluster made on this machine
// (test/support/node.ts): containerd + kubelet + kube-proxy in a network namespace, with the
// project's images built by hack/images/build.sh (buildah, local base images) and pushed under
// their own names to the node's registry, so the chart installs with its default values.
// Part of `npm test` (once per run: one file); it needs root on a cgroup v1 Linux host.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { ensureImages } from '../support/images.js';
import { hostFirewall, kubeRouterBin, nodePrerequisites, startRealCluster } from '../support/node.js';
import { models, repoRoot } from '../support/runtime.js';
import { defineE2eSuite, V1, V2, type E2eCluster } from './suite.js';

const run = promisify(execFile);
const buildScript = join(repoRoot, 'hack', 'images', 'build.sh');
type ModelEnv = { MODEL_REVISION: string; MODEL_DIR?: string; MODEL_NAME?: string };
/** hack/images/build.sh ARGS, for the model the env names (the bundled one at a revision, or the corrupt one). */
const images = async (model: ModelEnv, ...args: string[]) =>
  (await run(buildScript, args, { cwd: repoRoot, env: { ...process.env, ...model }, maxBuffer: 64 << 20 })).stdout.trim();
const v1: ModelEnv = { MODEL_REVISION: V1 };
const v2: ModelEnv = { MODEL_REVISION: V2 };
// Inside the build context (the repository root; .cache/ is git-ignored): the layout the runtime
// reads, with bytes in the ONNX file that are no model.
const corruptDir = '.cache/e2e-corrupt-model';
const corrupt: ModelEnv = { MODEL_REVISION: '1.0.0', MODEL_DIR: corruptDir, MODEL_NAME: 'corrupt-model' };

function writeCorruptModel(): void {
  const dir = join(repoRoot, corruptDir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json']) cpSync(join(models.demo, f), join(dir, f));
  writeFileSync(join(dir, 'onnx', 'model_quantized.onnx'), 'not an ONNX model\n');
}

async function start(): Promise<E2eCluster> {
  const started = Date.now();
  writeCorruptModel();
  ensureImages();
  await images(v2, 'model');
  await images(corrupt, 'model');
  const [operator, runtime, model1] = (await images(v1, 'names', 'operator', 'runtime', 'model')).split('\n');
  const model2 = await images(v2, 'names', 'model');
  const corruptModel = await images(corrupt, 'names', 'model');
  const built = Date.now();
  const kubeRouter = kubeRouterBin();
  if (!kubeRouter) console.log('e2e: no kube-router built (hack/kube-router-setup.sh): NetworkPolicy is not enforced on this node');
  const cluster = await startRealCluster({ kubeRouter });
  const up = Date.now();
  try {
    await images(v1, 'push', cluster.registry, 'all');
    await images(v2, 'push', cluster.registry, 'model');
    await images(corrupt, 'push', cluster.registry, 'model');
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const figures: [string, string][] = [
    ['images built (cached layers reused)', `${((built - started) / 1000).toFixed(0)} s`],
    ['cluster up (control plane + node Ready)', `${((up - built) / 1000).toFixed(1)} s`],
    ['images pushed to the node registry', `${((Date.now() - up) / 1000).toFixed(1)} s`],
  ];
  const report = (name: string, value: string) => { figures.push([name, value]); console.log(`e2e figure: ${name}: ${value}`); };
  for (const [name, value] of figures) console.log(`e2e figure: ${name}: ${value}`);
  return {
    kubeConfig: cluster.kubeConfig,
    kubeconfigPath: cluster.kubeconfigPath,
    kubectl: join(cluster.binDir, 'kubectl'),
    helm: async (...args) => (await run(join(cluster.binDir, 'helm'), ['--kubeconfig', cluster.kubeconfigPath, ...args], { cwd: repoRoot })).stdout,
    images: { operator: operator!, runtime: runtime!, model: (version) => (version === V1 ? model1! : model2), corruptModel },
    pullPolicy: 'IfNotPresent',
    hostReachesServices: true,
    containerProcesses: cluster.containerProcesses,
    untranslatedServicePackets: cluster.untranslatedServicePackets,
    networkPolicy: cluster.networkPolicy && { hostFirewallAtStart: cluster.networkPolicy.hostFirewallAtStart, hostFirewall },
    // The chart's own image names and defaults: the images were pushed under those names.
    chartValues: [],
    report,
    stop: async () => {
      report('node RSS (kubelet, kube-proxy, containerd, shims)', `${(cluster.nodeRssKb() / 1024).toFixed(0)} MiB`);
      await cluster.stop();
    },
  };
}

const missing = nodePrerequisites();
if (missing.length > 0) {
  describe('end to end on a real node', () => {
    it.skip(`skipped: a real node cannot run here (missing: ${missing.join('; ')})`, () => {});
  });
  console.log(`end to end on a real node: skipped, missing ${missing.join('; ')}`);
} else {
  defineE2eSuite('end to end on a real node (containerd, kubelet, kube-proxy): Helm chart, sample model, Service, version bump', start, { corruptModel: true });
}
