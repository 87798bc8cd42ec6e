import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { repoRoot, spawnTracked } from './runtime.js';

/** hack/images/build.sh builds the images (hack/dev runs it once before the tests) into its own storage. */
const buildScript = join(repoRoot, 'hack', 'images', 'build.sh');

function script(...args: string[]): string {
  return execFileSync('bash', [buildScript, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export type ImageTarget = 'runtime' | 'operator' | 'model';

/**
 * Builds the images from the working tree unless `hack/dev npm test` already did for this run:
 * cached layers make it quick when nothing changed, and build.sh takes one build at a time.
 */
export function ensureImages(): void {
  if (process.env.SENTIMENT_IMAGES_BUILT === '1') return;
  execFileSync('bash', [buildScript, 'all'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** The name build.sh gives an image: the chart's and the samples' own image names. */
export function imageName(target: ImageTarget): string {
  return script('names', target);
}

export interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export interface OpenImage {
  name: string;
  /** The image's files, through a buildah working container; nothing here writes to them. */
  rootfs: string;
  config: ImageConfig;
  close(): void;
}

/** Fails with the build command when the image is missing (see ensureImages). */
export function openImage(name: string): OpenImage {
  let container: string;
  try {
    container = script('buildah', 'from', '--pull=never', '--quiet', name);
  } catch (error) {
    throw new Error(`image ${name} is not in the project's image storage (build it with hack/images/build.sh): ${(error as Error).message}`);
  }
  const rootfs = script('buildah', 'mount', container);
  const config = (JSON.parse(script('buildah', 'inspect', '--type', 'image', name)) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
  return { name, rootfs, config, close: () => void script('buildah', 'rm', container) };
}

export interface RunOptions {
  /** Replaces the image's entrypoint and command, as a pod's `command` does. */
  command?: string[];
  args?: string[];
  /** Host directories bound read-write at these paths, as a pod's volumes are. */
  volumes?: Record<string, string>;
}

/**
 * Runs an image's process the way a restricted pod does, without a container engine: in new mount
 * and PID namespaces, chrooted into its files mounted read-only (writable: a tmpfs /tmp and the
 * volumes), as the image's USER, with only the image's environment, from its WORKDIR. The host
 * network is shared, so a server inside listens on the host's loopback.
 */
export function runInImage(image: OpenImage, options: RunOptions = {}) {
  const [uid, gid = uid] = (image.config.User ?? '0').split(':');
  const argv = [...(options.command ?? image.config.Entrypoint ?? []), ...(options.args ?? (options.command ? [] : (image.config.Cmd ?? [])))];
  const volumes = Object.entries(options.volumes ?? {});
  const setup = [
    'set -eu',
    'root=$1; shift',
    // Mount points, made in the working container's own layer as a container runtime makes them.
    'mkdir -p "$root/proc" "$root/dev" "$root/tmp"',
    ...volumes.map((_, i) => `mkdir -p "$root$VOLUME_AT_${i}"`),
    'mount --bind "$root" "$root"',
    'mount -t proc proc "$root/proc"',
    'mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"',
    'mount --rbind /dev "$root/dev"',
    ...volumes.map((_, i) => `mount --bind "$VOLUME_FROM_${i}" "$root$VOLUME_AT_${i}"`),
    'mount -o remount,bind,ro "$root"',
    // Not exec: this shell stays the namespace's PID 1 and keeps --kill-child's death signal (the
    // setuid below would clear it), so killing unshare takes the whole namespace, runtime included.
    '"$@"',
  ].join('\n');
  const volumeEnv = Object.fromEntries(volumes.flatMap(([at, from], i) => [[`VOLUME_AT_${i}`, at], [`VOLUME_FROM_${i}`, from]]));
  const inner = ['env', '-i', ...(image.config.Env ?? []), 'unshare', `--root=${image.rootfs}`, `--wd=${image.config.WorkingDir || '/'}`, `--setuid=${uid}`, `--setgid=${gid}`, '--', ...argv];
  return spawnTracked('unshare', ['--mount', '--pid', '--fork', '--kill-child', '--', 'sh', '-c', setup, 'sh', image.rootfs, ...inner], { PATH: process.env.PATH, ...volumeEnv });
}

/** Runs to the end; the exit code and everything printed. */
export async function runToExit(image: OpenImage, options: RunOptions = {}): Promise<{ code: number | null; output: string }> {
  const child = runInImage(image, options);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: child.output() };
}
