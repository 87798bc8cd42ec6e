// A real one-node Kubernetes cluster on this machine, without Docker: the control plane of
// controlplane.ts bound to the host end of a veth pair, and a node in a network namespace of its
// own: containerd + runc + the CNI bridge plugin, a kubelet and kube-proxy (nftables mode) built
// from the same k8s.io/kubernetes module, and a registry (Debian's docker-registry) on the host
// end of the veth, to which containerd maps every registry name. The node's namespace has no
// default route and pods get a resolv.conf pointing nowhere, so nothing in the cluster reaches past
// this machine. Pods' IPs and Service ClusterIPs are routed from the host to the node. Optionally
// kube-router's network-policy controller (test-only, hack/kube-router-setup.sh) enforces
// NetworkPolicy there, with iptables rules and ipsets in the node's netns only.
//
// Needs root on Linux; binaries from hack/envtest-setup.sh and hack/node-setup.sh. Everything is
// keyed by a slot number (netns, veth, cgroups, state dirs, addresses), so teardown works from the
// slot alone, also for a cluster whose owning process died (removeNode). Node processes and every
// container run in a cgroup of their own and are killed through it; containerd and the kubelet
// share a private mount namespace, so their mounts (volumes, rootfs, pod netns) vanish with them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { k8sBinDir, startControlPlane, type ControlPlane } from './controlplane.js';
import { waitFor } from './kube.js';

export const NODE_NAME = 'node-1';
/** The registry names containerd sends to the local registry: every one the project's images and charts use. */
const MIRRORED = ['ghcr.io', 'docker.io', 'registry-1.docker.io', 'registry.k8s.io', 'quay.io', 'gcr.io', 'mcr.microsoft.com', 'nvcr.io'];
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
const REGISTRY_PORT = 5000;
const MAX_SLOTS = 32;
const UNTRANSLATED_TABLE = 'sentiment-e2e-untranslated';
const CT_STATES = ['new', 'invalid', 'untracked', 'established', 'related'];

export interface Slot {
  slot: number;
  netns: string;
  /** The veth end on the host; the node's end is eth0 in the netns. */
  hostIf: string;
  hostIp: string;
  nodeIp: string;
  podCidr: string;
  serviceCidr: string;
  /** Cgroup (in every v1 hierarchy) holding the node's processes and, under it, the kubelet's pods. */
  cgroup: string;
  /** containerd's root and the kubelet's root dir. */
  stateDir: string;
  runDir: string;
}

export function slotLayout(slot: number): Slot {
  return {
    slot,
    netns: `sentiment-node-${slot}`,
    hostIf: `sentnode${slot}`,
    hostIp: `10.213.${slot}.1`,
    nodeIp: `10.213.${slot}.2`,
    podCidr: `10.214.${slot}.0/24`,
    serviceCidr: `10.215.${slot}.0/24`,
    cgroup: `sentiment-node-${slot}`,
    stateDir: `/var/lib/sentiment-node/${slot}`,
    runDir: `/run/sentiment-node/${slot}`,
  };
}

export interface RealCluster extends ControlPlane {
  layout: Slot;
  /** host:port of the registry containerd pulls every mirrored name from, plain http. */
  registry: string;
  /** Reads the RSS (kB) of the node's own processes: kubelet, kube-proxy, containerd and its shims. */
  nodeRssKb(): number;
  /** The processes of the pods' containers, as the host's /proc shows them. */
  containerProcesses(): ContainerProcess[];
  /**
   * Packets to a Service IP the node has forwarded so far with their destination untranslated, by
   * conntrack state: kube-proxy found no endpoint for them (new) or conntrack kept them from NAT
   * (invalid, untracked). Read before and after a step to see what escaped during it.
   */
  untranslatedServicePackets(): Record<string, number>;
  /** Set where kube-router enforces NetworkPolicy on the node (RealClusterOptions.kubeRouter). */
  networkPolicy?: {
    /** hostFirewall() as it was before kube-router started. */
    hostFirewallAtStart: string;
  };
}

export interface ContainerProcess {
  pid: number;
  /** Real, effective, saved and filesystem uids. */
  uids: number[];
  /** Whether the process's root filesystem is mounted read-only. */
  rootReadOnly: boolean;
  cmdline: string[];
}

export interface RealClusterOptions {
  /** Default: the first slot whose netns does not exist. */
  slot?: number;
  /** The registry's storage (default: a dir that goes with the cluster); a fixed one keeps pushed images. */
  registryDir?: string;
  /**
   * kube-router's binary (hack/kube-router-setup.sh): its network-policy controller alone then
   * enforces NetworkPolicy in the node's netns, which the CNI bridge plugin does not. A test-only
   * enforcer: kube-router is never part of what the project ships.
   */
  kubeRouter?: string;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

export function freeSlot(): number {
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const l = slotLayout(slot);
    if (!existsSync(`/run/netns/${l.netns}`) && !existsSync(l.runDir)) return slot;
  }
  throw new Error(`no free node slot: /run/netns/sentiment-node-0..${MAX_SLOTS - 1} all exist (\`npm run cluster -- down SLOT\` removes one)`);
}

/** What the node needs that is missing, as one line per item; empty when it can start. */
export function nodePrerequisites(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') return ['a Linux host'];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces, cgroups, mounts)');
  const bin = k8sBinDir();
  for (const b of ['kubelet', 'kube-proxy', pauseArchiveName()]) if (!existsSync(join(bin, '..', b)) && !existsSync(join(bin, b))) missing.push(`${b} in ${bin} (hack/envtest-setup.sh, hack/node-setup.sh)`);
  for (const tool of ['containerd', 'ctr', 'runc', 'docker-registry', 'nsenter', 'unshare', 'ip', 'nft']) {
    try { sh('sh', ['-c', `command -v ${tool}`]); } catch { missing.push(`${tool} (hack/node-setup.sh installs it)`); }
  }
  if (!existsSync('/usr/lib/cni/bridge')) missing.push('/usr/lib/cni/bridge (containernetworking-plugins)');
  return missing;
}

const KUBE_ROUTER_VERSION = 'v2.1.0';

/** The kube-router hack/kube-router-setup.sh built, or undefined where it has not been built. */
export function kubeRouterBin(): string | undefined {
  const cacheRoot = process.env.SENTIMENT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sentiment-operator');
  const bin = process.env.SENTIMENT_KUBE_ROUTER ?? join(cacheRoot, `kube-router-${KUBE_ROUTER_VERSION}`, 'bin', 'kube-router');
  return existsSync(bin) ? bin : undefined;
}

function pauseArchiveName(): string {
  return `pause-${PAUSE_IMAGE.split(':')[1]}.tar`;
}

export async function startRealCluster(opts: RealClusterOptions = {}): Promise<RealCluster> {
  const missing = nodePrerequisites();
  if (missing.length > 0) throw new Error(`a real node cannot start here; missing: ${missing.join('; ')}`);
  const l = slotLayout(opts.slot ?? freeSlot());
  // Before the control plane: the apiserver binds to the host end of the veth.
  createNetwork(l);
  let cp: ControlPlane | undefined;
  try {
    cp = await startControlPlane({
      controllerManager: true, scheduler: true, address: l.hostIp, serviceCidr: l.serviceCidr,
      apiserverArgs: (pki) => [
        // The kubelet's API (logs, exec, port-forward) authenticates the apiserver by the admin certificate.
        `--kubelet-client-certificate=${join(pki, 'admin.crt')}`, `--kubelet-client-key=${join(pki, 'admin.key')}`,
        // The node's InternalIP is the only address of it the apiserver can reach (logs, exec).
        '--kubelet-preferred-address-types=InternalIP',
        // Pods reach the apiserver through the `kubernetes` Service, which needs its endpoint.
        '--endpoint-reconciler-type=lease',
      ],
    });
  } catch (err) {
    removeNode(l.slot);
    throw err;
  }
  const plane = cp;
  plane.onStop(() => removeNode(l.slot));
  try {
    const registry = `${l.hostIp}:${REGISTRY_PORT}`;
    await plane.clientKubeconfig('kubelet', `/O=system:nodes/CN=system:node:${NODE_NAME}`);
    // system:kube-proxy is bound to the bootstrap ClusterRole system:node-proxier.
    await plane.clientKubeconfig('kube-proxy', '/CN=system:kube-proxy');
    const files = writeNodeFiles(plane, l, registry, opts.registryDir ?? join(plane.dir, 'registry'));
    const pids = (name: string) => Number(readFileSync(join(plane.dir, `${name}.pid`), 'utf8'));

    plane.startProcess('registry', 'docker-registry', ['serve', files.registryConfig]);
    await plane.waitForProcess('registry', () => fetch(`http://${registry}/v2/`).then((r) => r.ok), 20_000);

    // containerd in a mount namespace of its own, which the kubelet and kube-proxy join, in the node's netns.
    plane.startProcess('containerd', 'sh', inNode(l, plane.dir, 'containerd',
      ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${privateMounts(join(plane.dir, 'node'))}; exec "$@"`, 'containerd',
        'nsenter', `--net=/run/netns/${l.netns}`, 'containerd', '--config', files.containerdConfig]));
    const ctr = (...args: string[]) => sh('ctr', ['--address', files.containerdSocket, '--namespace', 'k8s.io', ...args]);
    await plane.waitForProcess('containerd', async () => { ctr('version'); return true; }, 30_000);
    ctr('images', 'import', join(k8sBinDir(), '..', pauseArchiveName()));

    plane.startProcess('kubelet', 'sh', inNode(l, plane.dir, 'kubelet',
      ['nsenter', `--mount=/proc/${pids('containerd')}/ns/mnt`, `--net=/run/netns/${l.netns}`, join(plane.binDir, 'kubelet'),
        `--config=${files.kubeletConfig}`, `--kubeconfig=${files.kubeletKubeconfig}`, `--hostname-override=${NODE_NAME}`,
        `--node-ip=${l.nodeIp}`, `--root-dir=${join(l.stateDir, 'kubelet')}`, '--v=1']));
    plane.startProcess('kube-proxy', 'sh', inNode(l, plane.dir, 'kube-proxy',
      ['nsenter', `--mount=/proc/${pids('containerd')}/ns/mnt`, `--net=/run/netns/${l.netns}`, join(plane.binDir, 'kube-proxy'),
        `--config=${files.proxyConfig}`, '--v=1']));

    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await plane.waitForProcess('kubelet', async () => {
      const node = await core.readNode({ name: NODE_NAME });
      return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
        && !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    }, 120_000, `node ${NODE_NAME} did not become Ready`);
    // The kubernetes Service's endpoint (lease reconciler) and kube-proxy's first sync, so pods can reach the apiserver.
    await waitFor(() => nftHasService(l, firstServiceIp(l)), 60_000, 'kube-proxy did not program the kubernetes Service', 250);
    let networkPolicy: RealCluster['networkPolicy'];
    if (opts.kubeRouter) {
      const hostFirewallAtStart = hostFirewall();
      // Only the firewall: pods keep the bridge's routes and kube-proxy's Services. Its iptables
      // rules and ipsets live in the node's netns. Admin credentials: this is test-only plumbing.
      plane.startProcess('kube-router', 'sh', inNode(l, plane.dir, 'kube-router',
        ['nsenter', `--net=/run/netns/${l.netns}`, opts.kubeRouter, `--kubeconfig=${plane.kubeconfigPath}`,
          `--hostname-override=${NODE_NAME}`, '--run-firewall=true', '--run-router=false', '--run-service-proxy=false',
          `--service-cluster-ip-range=${l.serviceCidr}`, '--health-port=0', '--metrics-port=0', '--v=1']));
      await plane.waitForProcess('kube-router', async () => inNodeNet(l, 'iptables', ['-n', '-L', 'KUBE-ROUTER-FORWARD']).includes('KUBE-'), 60_000);
      networkPolicy = { hostFirewallAtStart };
    }

    const nodeRssKb = () => {
      const procs = readFileSync(`/sys/fs/cgroup/pids/${l.cgroup}/node/cgroup.procs`, 'utf8').split('\n').filter(Boolean);
      return procs.reduce((sum, pid) => {
        try { return sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return sum; }
      }, 0);
    };
    const containerProcesses = () => walk(`/sys/fs/cgroup/pids/${l.cgroup}/kubepods`)
      .flatMap((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number))
      .flatMap((pid): ContainerProcess[] => {
        try {
          const uids = (/^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '').split(/\s+/).map(Number);
          // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...; the last mount at / is the visible one.
          const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((line) => line.split(' ')).filter((f) => f[4] === '/').at(-1);
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
          return [{ pid, uids, rootReadOnly: (root?.[5] ?? '').split(',').includes('ro'), cmdline }];
        } catch {
          return []; // exited meanwhile
        }
      });
    const untranslatedServicePackets = () => countUntranslatedServicePackets(l);
    return { ...plane, layout: l, registry, nodeRssKb, containerProcesses, networkPolicy, untranslatedServicePackets };
  } catch (err) {
    await plane.stop();
    throw err;
  }
}

/**
 * The host's own firewall as iptables (nft and legacy backends), nft and ipset list it, without
 * packet counters: what must read the same before and after the node's kube-router ran.
 */
export function hostFirewall(): string {
  const listings: [string, string[]][] = [['iptables-save', []], ['iptables-legacy-save', []], ['nft', ['-s', 'list', 'ruleset']], ['ipset', ['list', '-n']]];
  return listings.map(([cmd, args]) => {
    let text: string;
    try { text = sh(cmd, args); } catch (err) { text = `failed: ${(err as Error).message}`; }
    // iptables-save's header comments carry the time; chain lines carry [packets:bytes].
    return `== ${cmd}\n${text.split('\n').filter((line) => !line.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '')}`;
  }).join('\n');
}

/** A command run in the node's netns; throws when it fails. */
function shInNodeNet(l: Slot, cmd: string, args: string[]): string {
  return sh('nsenter', [`--net=/run/netns/${l.netns}`, cmd, ...args]);
}

/** shInNodeNet, with '' where it fails (e.g. while the node is still starting). */
function inNodeNet(l: Slot, cmd: string, args: string[]): string {
  try {
    return shInNodeNet(l, cmd, args);
  } catch {
    return '';
  }
}

/** One counting rule per state in a table of the node's netns that changes no packet. */
function countUntranslatedServicePackets(l: Slot): Record<string, number> {
  const listing = JSON.parse(shInNodeNet(l, 'nft', ['-j', 'list', 'chain', 'ip', UNTRANSLATED_TABLE, 'forward'])) as {
    nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
  };
  const counts: Record<string, number> = {};
  for (const { rule } of listing.nftables) {
    const packets = rule?.expr.find((e) => e.counter)?.counter?.packets;
    if (rule?.comment && packets !== undefined) counts[rule.comment] = packets;
  }
  return counts;
}

function firstServiceIp(l: Slot): string {
  return l.serviceCidr.replace(/\.0\/\d+$/, '.1');
}

function nftHasService(l: Slot, ip: string): boolean {
  return inNodeNet(l, 'nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']).includes(ip);
}

/**
 * Shell commands run in the node's private mount namespace. A tmpfs over /run/containerd, where
 * containerd 1.6 keeps shim sockets and runc state whatever its config says, so nothing is left
 * there after the node. And files holding the values the kubelet wants over the host-wide kernel
 * sysctls it would otherwise set on this shared machine (kernel.panic=10, kernel.panic_on_oops=1,
 * vm.overcommit_memory=1, ...): it reads them, sees its values and writes nothing. Containers mount
 * a /proc of their own and see the real ones.
 */
function privateMounts(dir: string): string {
  const wanted: Record<string, number> = {
    'vm/overcommit_memory': 1, 'vm/panic_on_oom': 0, 'kernel/panic': 10, 'kernel/panic_on_oops': 1,
    'kernel/keys/root_maxkeys': 1_000_000, 'kernel/keys/root_maxbytes': 25_000_000,
  };
  return Object.entries(wanted).map(([key, value]) => {
    const file = join(dir, `sysctl-${key.replaceAll('/', '.')}`);
    return `echo ${value} > ${file} && mount --bind ${file} /proc/sys/${key}`;
  }).concat('mkdir -p /run/containerd && mount -t tmpfs -o mode=0711 tmpfs /run/containerd').join(' && ');
}

/** argv for startProcess: join the node's cgroup, write <dir>/<name>.pid, then exec the command. */
function inNode(l: Slot, dir: string, name: string, argv: string[]): string[] {
  const join = cgroupDirs(l).map((d) => `echo $$ > ${d}/node/cgroup.procs`).join('; ');
  return ['-c', `${join}; echo $$ > ${dir}/${name}.pid; exec "$@"`, name, ...argv];
}

function cgroupDirs(l: Slot): string[] {
  // cgroup v1: one hierarchy per controller; v2's unified tree (hybrid mode) is left alone.
  const root = '/sys/fs/cgroup';
  if (!existsSync(join(root, 'pids', 'cgroup.procs'))) throw new Error(`${root} is not a cgroup v1 hierarchy with a pids controller; this harness was made for cgroup v1 hosts`);
  return readdirSync(root).filter((c) => c !== 'unified' && existsSync(join(root, c, 'cgroup.procs'))).map((c) => join(root, c, l.cgroup));
}

function createNetwork(l: Slot): void {
  if (existsSync(`/run/netns/${l.netns}`)) throw new Error(`network namespace ${l.netns} exists: slot ${l.slot} is in use`);
  mkdirSync(l.runDir, { recursive: true });
  try {
    sh('ip', ['netns', 'add', l.netns]);
    sh('ip', ['link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', l.netns]);
    sh('ip', ['addr', 'add', `${l.hostIp}/30`, 'dev', l.hostIf]);
    sh('ip', ['link', 'set', l.hostIf, 'up']);
    sh('ip', ['-n', l.netns, 'addr', 'add', `${l.nodeIp}/30`, 'dev', 'eth0']);
    sh('ip', ['-n', l.netns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', l.netns, 'link', 'set', 'lo', 'up']);
    // Host -> pods and Services: through the node. The node routes to pods on its bridge; no default route.
    sh('ip', ['route', 'add', l.podCidr, 'via', l.nodeIp, 'dev', l.hostIf]);
    sh('ip', ['route', 'add', l.serviceCidr, 'via', l.nodeIp, 'dev', l.hostIf]);
    // Inside the node, Service IPs route back to the host, which does not forward and so drops
    // them, as a real node's default route takes them away: kube-proxy's filter rules (reject for a
    // Service with no endpoints or an unserved port, drop for an unallocated IP) only see packets
    // that routing could forward, and without a route the node answered "network unreachable".
    sh('ip', ['-n', l.netns, 'route', 'add', l.serviceCidr, 'via', l.hostIp, 'dev', 'eth0']);
    const nft = (...args: string[]) => shInNodeNet(l, 'nft', args);
    nft('add', 'table', 'ip', UNTRANSLATED_TABLE);
    nft('add', 'chain', 'ip', UNTRANSLATED_TABLE, 'forward', '{ type filter hook forward priority -10; policy accept; }');
    for (const state of CT_STATES) nft('add', 'rule', 'ip', UNTRANSLATED_TABLE, 'forward', 'ip', 'daddr', l.serviceCidr, 'ct', 'state', state, 'counter', 'comment', `"${state}"`);
    // Per-namespace sysctls of the node's own netns (the host's stay as they are).
    shInNodeNet(l, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    for (const dir of cgroupDirs(l)) {
      for (const d of [dir, join(dir, 'node')]) {
        mkdirSync(d, { recursive: true });
        if (dir.includes('/cpuset/')) {
          // A new cpuset cgroup starts with no CPUs or memory nodes; its tasks could not run.
          for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join('/sys/fs/cgroup/cpuset', f)));
        }
      }
    }
  } catch (err) {
    removeNode(l.slot);
    throw err;
  }
}

/**
 * Kills every process in the slot's cgroups (node processes, shims, containers), removes the
 * cgroups, the netns (and so the veth pair and the host routes through it) and the state dirs.
 * Idempotent; synchronous, so it can run in an exit handler.
 */
export function removeNode(slot: number): void {
  const l = slotLayout(slot);
  const pidsRoot = `/sys/fs/cgroup/pids/${l.cgroup}`;
  const tasks = () => walk(pidsRoot).flatMap((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
  const deadline = Date.now() + 15_000;
  for (let left = tasks(); left.length > 0; left = tasks()) {
    if (Date.now() > deadline) throw new Error(`processes ${left.join(' ')} in ${pidsRoot} did not exit`);
    for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    sleepSync(50);
  }
  for (const dir of existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? cgroupDirs(l) : []) {
    // Children first; an emptied cgroup can take a moment to become removable.
    for (const d of walk(dir).reverse()) {
      for (let i = 0; existsSync(d); i++) {
        try { rmdirSync(d); } catch (err) { if (i > 40) throw err; sleepSync(50); }
      }
    }
  }
  if (existsSync(`/run/netns/${l.netns}`)) sh('ip', ['netns', 'delete', l.netns]);
  try { sh('ip', ['link', 'delete', l.hostIf]); } catch { /* went with the netns */ }
  rmSync(l.stateDir, { recursive: true, force: true });
  rmSync(l.runDir, { recursive: true, force: true });
}

/** The dir and every cgroup dir under it, parents first. */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return [dir, ...readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => walk(join(dir, e.name)))];
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface NodeFiles {
  registryConfig: string;
  containerdConfig: string;
  containerdSocket: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  proxyConfig: string;
}

function writeNodeFiles(cp: ControlPlane, l: Slot, registry: string, registryDir: string): NodeFiles {
  const dir = join(cp.dir, 'node');
  mkdirSync(dir, { recursive: true });
  mkdirSync(registryDir, { recursive: true });
  const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

  const registryConfig = file('registry.yml', `version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: ${registryDir} }, delete: { enabled: true } }
http: { addr: "${registry}" }
`);

  // Every registry name resolves to the local registry only, over plain http.
  const certsDir = join(dir, 'certs.d');
  for (const host of [...MIRRORED, registry]) {
    mkdirSync(join(certsDir, host), { recursive: true });
    writeFileSync(join(certsDir, host, 'hosts.toml'), `server = "http://${registry}"\n\n[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`);
  }
  const cniDir = join(dir, 'cni');
  mkdirSync(cniDir, { recursive: true });
  writeFileSync(join(cniDir, '10-bridge.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'sentiment-node',
    plugins: [
      // No ipMasq: nothing leaves the node. hairpinMode: a pod reaches itself through its Service.
      { type: 'bridge', bridge: 'cni0', isGateway: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: l.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'loopback' },
    ],
  }));
  const containerdSocket = join(l.runDir, 'containerd.sock');
  const containerdConfig = file('containerd.toml', `version = 2
root = "${join(l.stateDir, 'containerd')}"
state = "${join(l.runDir, 'containerd')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "${containerdSocket}"
[ttrpc]
  address = "${containerdSocket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(l.stateDir, 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # root here lacks CAP_SYS_RESOURCE: without this runc fails ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, removed with it (default: the host's /run/netns).
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${certsDir}"
`);
  const resolvConf = file('resolv.conf', '# No DNS in this cluster: pods call Services by ClusterIP.\nnameserver 127.0.0.1\n');
  const kubeletConfig = file('kubelet.json', JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration',
    // This machine has cgroup v1 only; cgroupfs since there is no systemd.
    failCgroupV1: false, cgroupDriver: 'cgroupfs', cgroupRoot: `/${l.cgroup}`,
    containerRuntimeEndpoint: `unix://${containerdSocket}`,
    address: l.nodeIp, readOnlyPort: 0, healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: join(cp.dir, 'pki', 'ca.crt') } },
    authorization: { mode: 'AlwaysAllow' },
    resolvConf, clusterDomain: 'cluster.local', podLogsDir: join(l.stateDir, 'pod-logs'),
    failSwapOn: false, serializeImagePulls: false, oomScoreAdj: 0,
    // A shared build machine's disk and memory are not this node's to guard: evict only near the end.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99,
  }));
  const proxyConfig = file('kube-proxy.json', JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration',
    mode: 'nftables', hostnameOverride: NODE_NAME, bindAddress: l.nodeIp, clusterCIDR: l.podCidr,
    clientConnection: { kubeconfig: join(cp.dir, 'kube-proxy.kubeconfig') },
    healthzBindAddress: '127.0.0.1:10256', metricsBindAddress: '127.0.0.1:10249', oomScoreAdj: 0,
    // nf_conntrack_max is global: leave the host's conntrack settings as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpTimeout: '0s', udpStreamTimeout: '0s' },
    // Masquerade Service traffic, so replies from a pod on the same bridge go back through the node.
    nftables: { masqueradeAll: true, minSyncPeriod: '0s' },
  }));
  return { registryConfig, containerdConfig, containerdSocket, kubeletConfig, kubeletKubeconfig: join(cp.dir, 'kubelet.kubeconfig'), proxyConfig };
}
