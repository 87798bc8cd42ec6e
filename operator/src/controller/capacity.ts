import type {
  V1Container, V1Node, V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod, V1PodSpec, V1Taint, V1Toleration,
} from '@kubernetes/client-node';

/** Free units of the resource on one node the pod may be scheduled to. */
export interface NodeRoom {
  node: string;
  free: number;
}

/**
 * How much of one extended resource (nvidia.com/gpu, a MIG profile) is free on the nodes a pod
 * with this spec may land on: nodes that are Ready and not cordoned, whose labels satisfy the
 * pod's nodeSelector and required node affinity, and whose NoSchedule/NoExecute taints it
 * tolerates. Free is allocatable minus the requests of the non-terminal pods bound to the node,
 * as the scheduler counts it; pods still waiting for a node are not counted, since nobody knows
 * yet where they will land.
 */
export function freeCapacity(pod: V1PodSpec, resource: string, nodes: readonly V1Node[], pods: readonly V1Pod[]): NodeRoom[] {
  const eligible = nodes.filter((n) => units(n.status?.allocatable?.[resource]) > 0 && schedulable(n) && placeable(pod, n));
  const used = new Map(eligible.map((n) => [n.metadata?.name ?? '', 0]));
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || !used.has(node) || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    used.set(node, (used.get(node) ?? 0) + podRequest(p.spec, resource));
  }
  return eligible.map((n) => {
    const node = n.metadata?.name ?? '';
    return { node, free: Math.max(0, units(n.status?.allocatable?.[resource]) - (used.get(node) ?? 0)) };
  });
}

/**
 * What a pod reserves of a resource, by the scheduler's rule: the larger of what its containers
 * (plus sidecars) need together and what any one init container needs while it runs, plus the
 * pod overhead. Extended resources are set as limits only; the apiserver copies them to requests.
 */
export function podRequest(spec: V1PodSpec | undefined, resource: string): number {
  const of = (c: V1Container) => units(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
  let sidecars = 0;
  let init = 0;
  for (const c of spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') sidecars += of(c);
    else init = Math.max(init, sidecars + of(c));
  }
  const main = (spec?.containers ?? []).reduce((sum, c) => sum + of(c), sidecars);
  return Math.max(main, init) + units(spec?.overhead?.[resource]);
}

const DECIMAL_SUFFIX: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Extended resources are whole numbers (the apiserver rejects fractions), so no other quantity form occurs. */
function units(quantity: string | undefined): number {
  const m = /^(\d+)([kMGTPE]?)$/.exec(quantity ?? '');
  return m ? Number(m[1]) * (DECIMAL_SUFFIX[m[2] ?? ''] ?? 1) : 0;
}

function schedulable(node: V1Node): boolean {
  return !node.spec?.unschedulable && (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function placeable(pod: V1PodSpec, node: V1Node): boolean {
  return selected(pod, node) && untoleratedTaint(pod, node) === undefined;
}

/** The node is one the pod's nodeSelector and required node affinity allow. */
function selected(pod: V1PodSpec, node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  if (!Object.entries(pod.nodeSelector ?? {}).every(([k, v]) => labels[k] === v)) return false;
  const terms = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return !terms || terms.some((t) => termMatches(t, labels, node.metadata?.name ?? ''));
}

/** PreferNoSchedule is only a preference; the other two effects keep the pod off the node. */
function untoleratedTaint(pod: V1PodSpec, node: V1Node): V1Taint | undefined {
  return (node.spec?.taints ?? []).find((taint) => taint.effect !== 'PreferNoSchedule' && !(pod.tolerations ?? []).some((t) => tolerates(t, taint)));
}

function untoleratedText(pod: V1PodSpec, node: V1Node): string | undefined {
  const taint = untoleratedTaint(pod, node);
  return taint && `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
}

/**
 * The nodes that the pod's node selection picks and that have the resource, yet freeCapacity
 * leaves out, each with the reason: a user who sees no spare GPU on nodes with GPUs to spare
 * learns why. Nodes the selection does not pick are no surprise and stay unnamed. By name, so
 * the message reads the same whatever order the cache holds them in.
 */
export function passedOver(pod: V1PodSpec, resource: string, nodes: readonly V1Node[]): { node: string; why: string }[] {
  return nodes.flatMap((n) => {
    if (units(n.status?.allocatable?.[resource]) === 0 || !selected(pod, n)) return [];
    const why = n.spec?.unschedulable ? 'cordoned' : schedulable(n) ? untoleratedText(pod, n) : 'not Ready';
    return why ? [{ node: n.metadata?.name ?? '', why }] : [];
  }).sort((a, b) => a.node.localeCompare(b.node));
}

/** The terms are ORed, the requirements in a term ANDed; a term without any requirement matches nothing. */
function termMatches(term: V1NodeSelectorTerm, labels: Record<string, string>, name: string): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length + fields.length === 0) return false;
  return exprs.every((r) => requirementMatches(r, labels[r.key])) && fields.every((r) => requirementMatches(r, r.key === 'metadata.name' ? name : undefined));
}

function requirementMatches(r: V1NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In': return value !== undefined && values.includes(value);
    case 'NotIn': return value === undefined || !values.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && Number.parseInt(value, 10) > Number.parseInt(values[0] ?? '', 10);
    case 'Lt': return value !== undefined && Number.parseInt(value, 10) < Number.parseInt(values[0] ?? '', 10);
    default: return false;
  }
}

/** core/v1 Toleration.ToleratesTaint: an empty effect or key matches any; Exists ignores the value. */
function tolerates(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
}

/** A node cut down to what freeCapacity reads, so caching every node of a large cluster stays cheap. */
export function nodeForCapacity(n: V1Node): V1Node {
  const { name, uid, resourceVersion, labels } = n.metadata ?? {};
  return {
    metadata: { name, uid, resourceVersion, labels },
    spec: { unschedulable: n.spec?.unschedulable, taints: n.spec?.taints },
    status: { allocatable: n.status?.allocatable, conditions: n.status?.conditions?.filter((c) => c.type === 'Ready').map(({ type, status }) => ({ type, status })) },
  };
}

/** A pod cut down to what freeCapacity reads: every bound pod of the cluster is cached. */
export function podForCapacity(p: V1Pod): V1Pod {
  const { name, namespace, uid, resourceVersion } = p.metadata ?? {};
  const slim = (cs: V1Container[] | undefined) => cs?.map(({ name, resources, restartPolicy }) => ({ name, resources, restartPolicy }));
  return {
    metadata: { name, namespace, uid, resourceVersion },
    spec: { nodeName: p.spec?.nodeName, containers: slim(p.spec?.containers) ?? [], initContainers: slim(p.spec?.initContainers), overhead: p.spec?.overhead },
    status: { phase: p.status?.phase },
  };
}
