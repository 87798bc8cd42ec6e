// The project's images, built from its own Dockerfiles with testcontainers (BuildKit) and handed to
// a k3s container's containerd, so the cluster runs them without any registry.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { repoRoot } from '../support/runtime.js';

/** Tags as a release would have them, with a suffix that marks them as local e2e builds. */
export const IMAGES = {
  operator: 'ghcr.io/sentiment-operator/sentiment-operator:0.1.0-e2e',
  runtime: 'ghcr.io/sentiment-operator/sentiment-runtime:0.1.0-e2e',
  model: (revision: string) => `ghcr.io/sentiment-operator/models/sst2-bert-mini-en:${revision}-e2e`,
};

/**
 * What the Dockerfiles COPY, and nothing else: the repository root also holds node_modules and
 * dist/, which would otherwise be sent to the engine as build context on every build.
 */
const CONTEXT = [
  'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'contract', 'runtime', 'operator', 'models',
  'Dockerfile.operator', 'Dockerfile.runtime', 'hack/model-image/Dockerfile',
];

export function stageBuildContext(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sentiment-e2e-context-'));
  for (const path of CONTEXT) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    cpSync(join(repoRoot, path), join(dir, path), { recursive: true });
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** docker build -f DOCKERFILE --build-arg ... -t IMAGE CONTEXT, through the engine's API with BuildKit. */
export async function buildImage(context: string, dockerfile: string, image: string, buildArgs: Record<string, string> = {}): Promise<string> {
  try {
    await GenericContainer.fromDockerfile(context, dockerfile).withBuildkit().withBuildArgs(buildArgs).build(image, { deleteOnExit: false });
  } catch (err) {
    throw new Error(`building ${image} from ${dockerfile} failed (DEBUG=testcontainers:build shows the build log): ${(err as Error).message}`, { cause: err });
  }
  return image;
}

/** docker save IMAGE | ctr -n k8s.io images import -, into the k3s node's containerd. */
export async function importImages(k3s: StartedTestContainer, images: string[]): Promise<void> {
  const client = await getContainerRuntimeClient();
  const dir = mkdtempSync(join(tmpdir(), 'sentiment-e2e-images-'));
  try {
    for (const [i, image] of images.entries()) {
      const file = join(dir, `image-${i}.tar`);
      await pipeline(await client.container.dockerode.getImage(image).get(), createWriteStream(file));
      const target = `/tmp/e2e-images/image-${i}.tar`;
      await k3s.copyFilesToContainer([{ source: file, target }]);
      // Without --all-platforms: a `docker save` from the containerd image store lists every
      // platform of the image's index but carries the blobs of the local one only.
      const result = await k3s.exec(['ctr', '-n', 'k8s.io', 'images', 'import', target]);
      if (result.exitCode !== 0) throw new Error(`ctr images import ${image} exited ${result.exitCode}: ${result.output}`);
      const listed = await k3s.exec(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q', `name==${image}`]);
      if (listed.stdout.trim() !== image) throw new Error(`${image} is not in the k3s node's containerd after the import: ${listed.output}`);
      await k3s.exec(['rm', '-f', target]);
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
