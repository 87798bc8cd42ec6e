// `hack/dev npm run cluster -- up|down [SLOT]|status|load IMAGE...`: a real one-node Kubernetes
// cluster on this Linux machine without Docker (test/support/node.ts), the way kind gives one with
// Docker. `up` starts it in a background process of its own and returns once the node is Ready,
// printing the KUBECONFIG to use; `down` stops it and removes everything it made (`down SLOT`: what
// a killed test run left in that slot); `load` pushes images built with hack/images/build.sh to the
// cluster's registry under their own names (ghcr.io/... resolves to that registry inside the
// cluster). Needs root. Run from the repository root (npm run does).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeNode, startRealCluster } from '../test/support/node.js';

const cacheRoot = process.env.SENTIMENT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sentiment-operator');
const home = join(cacheRoot, 'cluster');
const stateFile = join(home, 'state.json');
const kubeconfig = join(home, 'kubeconfig');
const log = join(home, 'cluster.log');

interface State { pid: number; slot: number; registry: string; server: string; ready: boolean }

const readState = (): State | undefined => (existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) as State : undefined);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describe(s: State): string {
  return [
    `cluster up: node Ready (slot ${s.slot}), apiserver ${s.server}`,
    `  export KUBECONFIG=${kubeconfig}`,
    `  registry ${s.registry}: in the cluster ghcr.io, docker.io, registry.k8s.io, quay.io ... all resolve to it`,
    '  load images: hack/dev npm run cluster -- load IMAGE...   stop: hack/dev npm run cluster -- down',
    `  logs: ${log} and the dir it names`,
  ].join('\n');
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing && alive(existing.pid)) {
    console.log(existing.ready ? describe(existing) : `cluster is starting (pid ${existing.pid}); see ${log}`);
    return;
  }
  mkdirSync(home, { recursive: true });
  rmSync(stateFile, { force: true });
  const fd = openSync(log, 'w');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  for (;;) {
    const s = readState();
    if (s?.ready) { console.log(describe(s)); return; }
    if (child.exitCode !== null || (s === undefined && child.pid !== undefined && !alive(child.pid))) {
      throw new Error(`the cluster did not start:\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-30).join('\n')}`);
    }
    await sleep(500);
  }
}

/** The background process `up` starts: owns the cluster until SIGTERM/SIGINT. */
async function serve(): Promise<void> {
  const cluster = await startRealCluster({ registryDir: join(home, 'registry') });
  console.log(`control plane and node logs: ${cluster.dir}`);
  copyFileSync(cluster.kubeconfigPath, kubeconfig);
  const state: State = { pid: process.pid, slot: cluster.layout.slot, registry: cluster.registry, server: cluster.server, ready: true };
  writeFileSync(stateFile, JSON.stringify(state));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the cluster`);
    await cluster.stop();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  setInterval(() => {}, 1 << 30);
}

async function down(slot?: string): Promise<void> {
  if (slot !== undefined) {
    // A slot left behind by a test run that was killed: its processes, cgroups, netns and state dirs.
    if (!/^\d+$/.test(slot)) throw new Error(`usage: npm run cluster -- down [SLOT], not ${slot}`);
    removeNode(Number(slot));
    console.log(`slot ${slot} removed`);
    return;
  }
  const s = readState();
  if (!s) { console.log('no cluster is up'); return; }
  if (alive(s.pid)) {
    process.kill(s.pid, 'SIGTERM');
    for (let i = 0; i < 240 && alive(s.pid); i++) await sleep(250);
  }
  // The owning process is gone (or stuck): remove what is left of its node by the slot's names.
  if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  removeNode(s.slot);
  rmSync(stateFile, { force: true });
  console.log('cluster down');
}

function load(images: string[]): void {
  const s = readState();
  if (!s?.ready || !alive(s.pid)) throw new Error('no cluster is up: hack/dev npm run cluster -- up');
  if (images.length === 0) throw new Error('usage: npm run cluster -- load IMAGE... (images built by hack/images/build.sh)');
  for (const image of images) {
    // ghcr.io/org/name:tag -> REGISTRY/org/name:tag; the cluster's containerd maps ghcr.io there.
    const path = image.includes('/') && /[.:]|^localhost$/.test(image.split('/')[0] ?? '') ? image.slice(image.indexOf('/') + 1) : image;
    execFileSync(join(process.cwd(), 'hack/images/build.sh'), ['buildah', 'push', '--tls-verify=false', image, `docker://${s.registry}/${path}`], { stdio: 'inherit' });
    console.log(`loaded ${image}`);
  }
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'up': await up(); break;
  case 'serve': await serve(); break;
  case 'down': await down(args[0]); break;
  case 'status': { const s = readState(); console.log(s && alive(s.pid) ? describe(s) : 'no cluster is up'); break; }
  case 'load': load(args); break;
  default:
    console.error('usage: hack/dev npm run cluster -- up | down [SLOT] | status | load IMAGE...');
    process.exit(2);
}
