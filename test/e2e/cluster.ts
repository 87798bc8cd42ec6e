// A real single-node Kubernetes (k3s in a container, via testcontainers) with the project's images
// imported; suite.ts installs the operator from the Helm chart, as a user would.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { K3sContainer, type StartedK3sContainer } from '@testcontainers/k3s';
import { KubeConfig } from '@kubernetes/client-node';
import { k8sBinDir } from '../support/controlplane.js';
import { repoRoot } from '../support/runtime.js';
import { importImages } from './images.js';
import type { E2eCluster } from './suite.js';

// rancher/k3s:v1.35.5-k3s1, pinned by digest.
export const K3S_IMAGE = 'rancher/k3s:v1.35.5-k3s1@sha256:2074403abe1bded11ef3dde09d457e13be8e0b64c218b1c4f8269b4565cfbc65';

/** helm is the control-plane binaries' (npm run envtest:setup), against this cluster. */
export type Cluster = Pick<E2eCluster, 'kubeConfig' | 'kubeconfigPath' | 'helm' | 'stop'> & { k3s: StartedK3sContainer };

export async function startCluster(images: string[]): Promise<Cluster> {
  const helmBin = join(k8sBinDir(), 'helm');
  if (!existsSync(helmBin)) throw new Error(`${helmBin} is missing: run \`npm run envtest:setup\` (or set SENTIMENT_K8S_BIN)`);
  const k3s = await new K3sContainer(K3S_IMAGE).start();
  const dir = mkdtempSync(join(tmpdir(), 'sentiment-e2e-k3s-'));
  const stop = async () => {
    await k3s.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await importImages(k3s, images);
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, k3s.getKubeConfig(), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const helm = async (...args: string[]) => {
      const { stdout } = await promisify(execFile)(helmBin, ['--kubeconfig', kubeconfigPath, ...args], { cwd: repoRoot, maxBuffer: 16 << 20 });
      return stdout;
    };
    return { k3s, kubeConfig, kubeconfigPath, helm, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
