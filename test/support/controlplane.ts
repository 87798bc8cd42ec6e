// A real, throwaway Kubernetes control plane for integration tests: etcd + kube-apiserver, and on
// request kube-controller-manager, kube-scheduler and kwok (which plays kubelet for fake nodes).
// Binaries come from `npm run envtest:setup`. Every process runs in its own process group and logs
// to a file in the temp dir; stop() kills them all and removes the dir, also after a failed start
// (set SENTIMENT_ENVTEST_KEEP=1 to keep the dir and its logs).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { KubeConfig, CoordinationV1Api, CoreV1Api, type KubernetesObject, type V1Node, type V1Taint } from '@kubernetes/client-node';
import { applyObject, waitFor } from './kube.js';
import { signalGroup, spawnGroup, terminateGroup, type GroupProcess } from './process-group.js';

export const K8S_VERSION = 'v1.35.4';
/** The nodes kwok plays kubelet for. */
const KWOK_NODE_SELECTOR = 'type=kwok';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Pods of the model images named in it fail to pull or crash-loop; see the file. */
const FAILURE_STAGES = join(repoRoot, 'test/support/kwok-failure-stages.yaml');
export const UNPULLABLE_MODEL_IMAGE = 'ghcr.io/example/unpullable-model:1.0.0';
export const CRASHING_MODEL_IMAGE = 'ghcr.io/example/corrupt-model:1.0.0';

export interface ControlPlaneOptions {
  /** Start kube-scheduler (default false). */
  scheduler?: boolean;
  /** Start kube-controller-manager: ReplicaSets, GC, service accounts... (default false). */
  controllerManager?: boolean;
  /** Start kwok, which makes nodes labelled type=kwok Ready and their pods Running (default: true when nodes are given). */
  kwok?: boolean;
  /** Directory whose *.yaml/*.yml CRDs are installed and awaited (default: <repo>/crds; missing or empty is fine). */
  crdsDir?: string;
  /** Fake nodes to create; they get the label type=kwok. */
  nodes?: NodeSpec[];
  /** The address kube-apiserver binds to and advertises (default 127.0.0.1); a real node reaches it there. */
  address?: string;
  /** --service-cluster-ip-range (default 10.96.0.0/16); its first address, the `kubernetes` Service's, is in the serving certificate. */
  serviceCidr?: string;
  /** More kube-apiserver flags, given the dir of the CA and admin cert; a flag here wins over its default. */
  apiserverArgs?: (pkiDir: string) => string[];
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Admin kubeconfig (user in system:masters), valid until stop(). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  binDir: string;
  /** Temp dir holding certs, etcd data and <component>.log files. */
  dir: string;
  /** Creates a fake node and, when kwok runs, waits until it is Ready. */
  addNode(spec: NodeSpec): Promise<void>;
  /** A KubeConfig authenticating as an existing ServiceAccount (TokenRequest, 1 h), so RBAC applies to it. */
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  /** Writes <dir>/<name>.kubeconfig for a client certificate the cluster CA signs, subject e.g. /O=system:nodes/CN=system:node:n1. */
  clientKubeconfig(name: string, subject: string): Promise<string>;
  /** Starts a process as the control plane's own: its own process group, <dir>/<name>.log, stopped by stop(). */
  startProcess(name: string, bin: string, args: string[]): void;
  /** Polls probe until true; fails early, with the process's log tail, if it exits, or when time runs out. */
  waitForProcess(name: string, probe: () => Promise<boolean>, timeoutMs: number, what?: string): Promise<void>;
  /** Kills a process of the control plane (SIGKILL: a crash, no shutdown), e.g. 'kube-apiserver' or 'etcd'; resolves once it is gone. */
  kill(name: string): Promise<void>;
  /** Starts a killed process again, same command line (ports, data dir), and waits until it is healthy. */
  restart(name: string): Promise<void>;
  /** Runs after stop() has stopped every process (also when this process exits without stop()); must be synchronous. */
  onStop(cleanup: () => void): void;
  stop(): Promise<void>;
}

/**
 * Ready, and without the node.kubernetes.io/not-ready taint that the controller-manager puts on a
 * node it saw before kwok made it Ready and lifts a little later: until then neither the scheduler
 * nor the operator's capacity count may place a pod there.
 */
const ready = (n: KubernetesObject & { spec?: { taints?: { key: string }[] }; status?: { conditions?: { type: string; status: string }[] } }) =>
  (n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  && !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));

/** Where the binaries live: $SENTIMENT_K8S_BIN, else the cache hack/envtest-setup.sh fills. */
export function k8sBinDir(): string {
  if (process.env.SENTIMENT_K8S_BIN) return process.env.SENTIMENT_K8S_BIN;
  const cacheRoot = process.env.SENTIMENT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sentiment-operator');
  return join(cacheRoot, `k8s-${K8S_VERSION}`, 'bin');
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = k8sBinDir();
  const nodes = opts.nodes ?? [];
  const kwok = opts.kwok ?? nodes.length > 0;
  const needed = ['etcd', 'kube-apiserver'];
  if (opts.controllerManager) needed.push('kube-controller-manager');
  if (opts.scheduler) needed.push('kube-scheduler');
  if (kwok) needed.push('kwok', 'kwok-stages.yaml');
  const missing = needed.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0) {
    throw new Error(`control-plane binaries missing in ${binDir}: ${missing.join(', ')}; run \`npm run envtest:setup\` (or set SENTIMENT_K8S_BIN)`);
  }

  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sentiment-envtest-'));
  const procs = new Procs(dir);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= procs.stopAll().finally(() => {
    if (!process.env.SENTIMENT_ENVTEST_KEEP) rmSync(dir, { recursive: true, force: true });
  }));

  try {
    const [etcdPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = procs.start('etcd', join(binDir, 'etcd'), [
      '--name=default', `--data-dir=${join(dir, 'etcd')}`, '--unsafe-no-fsync', '--log-level=warn',
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`, '--quota-backend-bytes=1073741824',
    ]);
    const address = opts.address ?? '127.0.0.1';
    const serviceCidr = opts.serviceCidr ?? '10.96.0.0/16';
    await writeCerts(dir, [address, firstAddress(serviceCidr)]);
    const pki = (f: string) => join(dir, 'pki', f);
    procs.health.set('etcd', () => httpOk(`${etcdUrl}/health`));
    await procs.waitUntil(etcd, () => httpOk(`${etcdUrl}/health`), 20_000);

    const server = `https://${address}:${apiPort}`;
    const apiserver = procs.start('kube-apiserver', join(binDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`, `--bind-address=${address}`, `--advertise-address=${address}`, `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki('serving.crt')}`, `--tls-private-key-file=${pki('serving.key')}`, `--client-ca-file=${pki('ca.crt')}`,
      '--authorization-mode=Node,RBAC', '--allow-privileged=true', '--enable-priority-and-fairness=false', '--profiling=false',
      // PodSecurity is among the default admission plugins; NodeRestriction is not.
      '--enable-admission-plugins=NodeRestriction,PodSecurity',
      `--service-cluster-ip-range=${serviceCidr}`, '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki('sa.pub')}`, `--service-account-signing-key-file=${pki('sa.key')}`,
      '--api-audiences=https://kubernetes.default.svc.cluster.local', '--endpoint-reconciler-type=none', '--v=1',
      ...opts.apiserverArgs?.(join(dir, 'pki')) ?? [],
    ]);
    const tls = { ca: readFileSync(pki('ca.crt')), cert: readFileSync(pki('admin.crt')), key: readFileSync(pki('admin.key')) };
    procs.health.set('kube-apiserver', () => httpOk(`${server}/readyz`, tls));
    await procs.waitUntil(apiserver, () => httpOk(`${server}/readyz`, tls), 60_000);

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, tls), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);

    // CRDs first: the controller-manager's garbage collector discovers resource types at start and
    // then only every 30 s, so owners of a CRD installed later would not cascade-delete for a while.
    await installCrds(kubeconfigPath, binDir, opts.crdsDir ?? join(repoRoot, 'crds'));
    if (opts.controllerManager) {
      procs.start('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
        `--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0', '--controllers=*',
        `--service-account-private-key-file=${pki('sa.key')}`, `--root-ca-file=${pki('ca.crt')}`,
        `--cluster-signing-cert-file=${pki('ca.crt')}`, `--cluster-signing-key-file=${pki('ca.key')}`,
        '--use-service-account-credentials=false', '--v=1',
      ]);
    }
    if (opts.scheduler) {
      procs.start('kube-scheduler', join(binDir, 'kube-scheduler'), [
        `--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0', '--v=1',
      ]);
    }
    if (kwok) {
      // An explicit --config, so a developer's ~/.kwok/kwok.yaml is not read. Its stages (written by
      // envtest-setup from kwok's own defaults) make nodes Ready and pods Running+Ready at once;
      // ours fail the pods of a few sentinel model images as a kubelet would.
      // --node-lease-duration-seconds: without it kwok keeps no node Lease, and its stages (which
      // assume one) refresh the node's status only every 10-20 min; the controller-manager's node
      // lifecycle controller then finds the node silent for its 50 s grace period, marks it
      // NotReady and every pod on it Ready=False, and kwok re-readies the node but never those
      // pods. 40 s is a kubelet's default; kwok renews the Lease well within it.
      procs.start('kwok', join(binDir, 'kwok'), [
        `--kubeconfig=${kubeconfigPath}`, '--manage-all-nodes=false', `--manage-nodes-with-label-selector=${KWOK_NODE_SELECTOR}`, '--node-lease-duration-seconds=40',
        '--cidr=10.244.0.0/16', '--node-ip=127.0.0.1', `--config=${join(binDir, 'kwok-stages.yaml')}`, `--config=${FAILURE_STAGES}`,
      ]);
    }

    const addNode = async (spec: NodeSpec) => {
      await applyObject(kubeConfig, nodeObject(spec), 'envtest');
      if (kwok) {
        await procs.waitUntil(procs.get('kwok'), async () => ready(await core.readNode({ name: spec.name })), 30_000,
          `node ${spec.name} did not become Ready`);
      }
    };
    const waits: Promise<unknown>[] = nodes.map(addNode);
    if (opts.controllerManager) {
      // The service-account controller creating default/default shows the controllers are running;
      // pods cannot be admitted into a namespace before its default ServiceAccount exists.
      waits.push(procs.waitUntil(procs.get('kube-controller-manager'), () =>
        core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }).then(() => true, () => false), 60_000));
    }
    await Promise.all(waits);
    const serviceAccountKubeConfig = async (namespace: string, name: string) => {
      const tr = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'envtest', server, caData: tls.ca.toString('base64') }],
        users: [{ name, token: tr.status?.token }],
        contexts: [{ name, cluster: 'envtest', user: name }],
        currentContext: name,
      });
      return kc;
    };
    const clientKubeconfig = async (name: string, subject: string) => {
      await runOpenssl(join(dir, 'pki'), `leaf ${name} ${subject} -addext extendedKeyUsage=clientAuth`);
      const path = join(dir, `${name}.kubeconfig`);
      writeFileSync(path, kubeconfigYaml(server, { ca: tls.ca, cert: readFileSync(pki(`${name}.crt`)), key: readFileSync(pki(`${name}.key`)) }), { mode: 0o600 });
      return path;
    };
    return {
      server, kubeconfigPath, kubeConfig, binDir, dir, addNode, serviceAccountKubeConfig, clientKubeconfig,
      startProcess: (name, bin, args) => { procs.start(name, bin, args); },
      waitForProcess: (name, probe, timeoutMs, what) => procs.waitUntil(procs.get(name), probe, timeoutMs, what),
      kill: (name) => terminateGroup(procs.get(name), 0, 'SIGKILL'),
      restart: async (name) => {
        // A kubelet restarts under its own name and renews its node's Lease at once; each kwok process
        // holds them under an identity of its own, so a new one waited for the dead one's leases to
        // expire (up to 40 s) before it acted on the nodes' pods: an apiserver outage of 20 s left
        // every new pod unready for ~20 s more. The dead process's leases are released instead.
        if (name === 'kwok') {
          const leases = kubeConfig.makeApiClient(CoordinationV1Api);
          const managed = (await core.listNode({ labelSelector: KWOK_NODE_SELECTOR })).items.map((node) => node.metadata!.name!);
          await Promise.all(managed.map((node) => leases.deleteNamespacedLease({ namespace: 'kube-node-lease', name: node }).catch(() => undefined)));
        }
        await procs.restart(name);
      },
      onStop: (cleanup) => { procs.cleanups.unshift(cleanup); },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Applies every CRD in dir with `kubectl apply --server-side`, which sends the YAML verbatim (the
 * typed client-node serializer would drop defaults, enums and CEL rules), and waits until each
 * one's resource is served.
 */
export async function installCrds(kubeconfigPath: string, binDir: string, dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const crds = files.flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as KubernetesObject | null))
    .filter((o): o is KubernetesObject => o?.kind === 'CustomResourceDefinition');
  if (crds.length === 0) return [];
  const kubectl = (...args: string[]) => promisify(execFile)(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args]);
  await kubectl('apply', '--server-side', '--field-manager=envtest', ...files.flatMap((f) => ['-f', join(dir, f)]));
  const names = crds.map((crd) => crd.metadata?.name ?? '');
  // `kubectl wait` fails outright while a new CRD has no conditions yet, so poll. Established can
  // also precede the storage answering lists ("storage is (re)initializing").
  const served = (name: string) => async () => {
    const established = await kubectl('get', `crd/${name}`, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}').then((r) => r.stdout === 'True', () => false);
    return established && kubectl('get', name, '--all-namespaces', '-o', 'name').then(() => true, () => false);
  };
  await Promise.all(names.map((name) => waitFor(served(name), 30_000, `${name} not served`)));
  return names;
}

export interface NodeSpec {
  name: string;
  /** Extra labels; type=kwok and kubernetes.io/hostname are always set. */
  labels?: Record<string, string>;
  taints?: V1Taint[];
  /** Allocatable (and capacity) resources, e.g. { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '8' }. */
  allocatable: Record<string, string>;
}

export interface CpuNodeOptions { cpu?: string; memory?: string; pods?: string; labels?: Record<string, string> }
export interface GpuNodeOptions extends CpuNodeOptions {
  /** Whole GPUs (nvidia.com/gpu), default 1; may be 0 for a MIG-only node. */
  gpus?: number;
  /** nvidia.com/gpu.product label, default NVIDIA-H100-80GB-HBM3. */
  product?: string;
  /** MIG profiles and counts, e.g. { '1g.10gb': 7 } -> nvidia.com/mig-1g.10gb: 7 (mixed strategy). */
  mig?: Record<string, number>;
}

export function cpuNode(name: string, o: CpuNodeOptions = {}): NodeSpec {
  return { name, labels: o.labels, allocatable: { cpu: o.cpu ?? '8', memory: o.memory ?? '32Gi', pods: o.pods ?? '110' } };
}

/** A GPU node as the NVIDIA device plugin + GPU feature discovery would publish it, with the usual NoSchedule taint. */
export function gpuNode(name: string, o: GpuNodeOptions = {}): NodeSpec {
  const gpus = o.gpus ?? 1;
  const mig = Object.entries(o.mig ?? {});
  const base = cpuNode(name, { cpu: o.cpu ?? '32', memory: o.memory ?? '256Gi', pods: o.pods });
  return {
    name,
    labels: {
      'nvidia.com/gpu.present': 'true', 'nvidia.com/gpu.product': o.product ?? 'NVIDIA-H100-80GB-HBM3',
      'nvidia.com/gpu.count': String(gpus + mig.reduce((n, [, c]) => n + c, 0)),
      ...(mig.length > 0 ? { 'nvidia.com/mig.strategy': 'mixed' } : {}), ...o.labels,
    },
    taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
    allocatable: { ...base.allocatable, 'nvidia.com/gpu': String(gpus), ...Object.fromEntries(mig.map(([p, c]) => [`nvidia.com/mig-${p}`, String(c)])) },
  };
}

export function nodeObject(spec: NodeSpec): V1Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name: spec.name,
      labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...spec.labels, type: 'kwok' },
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { taints: spec.taints },
    status: { allocatable: spec.allocatable, capacity: spec.allocatable },
  };
}

type Proc = GroupProcess;

/** Child processes, each the leader of its own process group, stderr+stdout in <dir>/<name>.log. */
class Procs {
  private list: Proc[] = [];
  private readonly commands = new Map<string, { bin: string; args: string[] }>();
  /** Health probes, by process name, that restart() waits for. */
  readonly health = new Map<string, () => Promise<boolean>>();
  /** Run in order after the processes have stopped. */
  readonly cleanups: (() => void)[] = [];
  private readonly onExit = () => {
    for (const p of this.list) signalGroup(p, 'SIGKILL');
    this.runCleanups();
  };
  constructor(private readonly dir: string) { process.on('exit', this.onExit); }

  start(name: string, bin: string, args: string[]): Proc {
    const proc = spawnGroup(name, bin, args, { cwd: this.dir, log: join(this.dir, `${name}.log`) });
    this.list = [...this.list.filter((p) => p.name !== name), proc];
    this.commands.set(name, { bin, args });
    return proc;
  }

  async restart(name: string): Promise<void> {
    const old = this.get(name);
    if (old.exitCode === undefined) throw new Error(`${name} is still running`);
    const command = this.commands.get(name);
    if (!command) throw new Error(`${name} not started`);
    const proc = this.start(name, command.bin, command.args);
    await this.waitUntil(proc, this.health.get(name) ?? (async () => true), 60_000, `${name} did not come back`);
  }

  get(name: string): Proc {
    const p = this.list.find((x) => x.name === name);
    if (!p) throw new Error(`${name} not started`);
    return p;
  }

  /** Polls probe until true; fails early, with the log tail, if the process dies or time runs out. */
  async waitUntil(proc: Proc, probe: () => Promise<boolean>, timeoutMs: number, what = `${proc.name} did not become ready`): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited (${proc.exitCode}) during startup:\n${tail(proc.log)}`);
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; ${proc.name} log:\n${tail(proc.log)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Clients first, then kube-apiserver, then etcd: SIGTERM to each process group, SIGKILL after 5 s. */
  async stopAll(): Promise<void> {
    const tiers = [this.list.filter((p) => p.name !== 'etcd' && p.name !== 'kube-apiserver'),
      this.list.filter((p) => p.name === 'kube-apiserver'), this.list.filter((p) => p.name === 'etcd')];
    for (const tier of tiers) {
      await Promise.all(tier.map((p) => terminateGroup(p, 5_000)));
    }
    process.off('exit', this.onExit);
    this.runCleanups();
  }

  private runCleanups(): void {
    for (const cleanup of this.cleanups.splice(0)) {
      try { cleanup(); } catch (err) { console.error(`cleanup failed: ${(err as Error).message}`); }
    }
  }
}

export function tail(file: string, lines = 40): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function httpOk(url: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<boolean> {
  if (!tls) return fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
  return new Promise((res) => {
    const req = request(url, { ...tls, timeout: 2_000 }, (r) => { r.resume(); res(r.statusCode === 200); });
    req.on('error', () => res(false)).on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * CA, apiserver serving cert (for localhost, the given IPs and the `kubernetes` Service's names),
 * admin client cert (O=system:masters) and the service-account key pair.
 */
async function writeCerts(dir: string, ips: string[]): Promise<void> {
  const pki = join(dir, 'pki');
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sans = [...new Set(['127.0.0.1', ...ips])].map((ip) => `IP:${ip}`).join(',');
  mkdirSync(pki, { recursive: true });
  await runOpenssl(pki, `openssl req -x509 $ec -keyout ca.key -out ca.crt -subj /CN=sentiment-envtest-ca \\
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature
leaf serving /CN=kube-apiserver -addext extendedKeyUsage=serverAuth -addext \\
  subjectAltName=${sans},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
leaf admin /O=system:masters/CN=envtest-admin -addext extendedKeyUsage=clientAuth`);
  writeFileSync(join(pki, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(pki, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
}

/** Runs commands in the pki dir with `leaf NAME SUBJECT [-addext ...]` defined: an EC cert the CA there signs. */
async function runOpenssl(pki: string, commands: string): Promise<void> {
  const script = `set -e
cd "${pki}"
printf '[req]\\ndistinguished_name = dn\\n[dn]\\n' > openssl.cnf
export OPENSSL_CONF="$PWD/openssl.cnf"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7"
leaf() { name=$1 subj=$2; shift 2; openssl req -x509 $ec -CA ca.crt -CAkey ca.key -keyout "$name.key" -out "$name.crt" \\
  -subj "$subj" -addext basicConstraints=critical,CA:FALSE -addext keyUsage=critical,digitalSignature,keyEncipherment "$@"; }
${commands}
`;
  await promisify(execFile)('bash', ['-c', script]).catch((e: Error & { stderr?: string }) => {
    throw new Error(`generating certificates with openssl failed: ${e.stderr ?? e.message}`);
  });
}

/** The first host address of an IPv4 CIDR: 10.96.0.0/16 -> 10.96.0.1. */
function firstAddress(cidr: string): string {
  const octets = (cidr.split('/')[0] ?? '').split('.').map(Number);
  const n = octets.reduce((acc, o) => acc * 256 + o, 0) + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function kubeconfigYaml(server: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster: { server: "${server}", certificate-authority-data: ${b64(tls.ca)} }
users:
- name: envtest-admin
  user: { client-certificate-data: ${b64(tls.cert)}, client-key-data: ${b64(tls.key)} }
contexts:
- name: envtest
  context: { cluster: envtest, user: envtest-admin }
current-context: envtest
`;
}
