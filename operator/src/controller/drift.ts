import type { KubernetesObject, V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../kube/writer.js';

/** managedFields' fieldsV1: `f:<field>`, `k:<keys as JSON>`, `v:<value as JSON>`, `i:<index>`; `{}` marks a field owned whole. */
type FieldSet = { [path: string]: FieldSet };

/**
 * The parts of each child the operator owns whole: anything another manager added there is
 * drift, and a repair puts back exactly our version of them (repairPatch). Outside these, others
 * may add what they like (annotations from GitOps tools, a Service's sessionAffinity).
 */
const OWNED_WHOLE: Record<string, string[][]> = {
  Deployment: [['spec']],
  PodDisruptionBudget: [['spec']],
  Service: [['spec', 'selector'], ['spec', 'ports'], ['spec', 'type']],
  ConfigMap: [['data'], ['binaryData']],
};

/** `kubectl rollout restart`'s stamp: a legitimate way to restart a model's pods, so it is kept. */
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const RESTARTED_AT_PATH = `spec.template.metadata.annotations.${RESTARTED_AT}`;

export interface Drift {
  /** Fields we apply that the live object no longer has as we applied them, with who changed them where known. */
  changed: string[];
  /** Fields in parts we own whole that someone else added, with who. */
  added: string[];
}

/**
 * What of `desired` (as applied, hash annotation included) `live` no longer carries, read from
 * the live object's managedFields alone, so no value is compared and nothing the apiserver
 * defaults or normalizes (quantities, probe defaults, clusterIP) can look like drift. Server-side
 * apply moves a field to whoever changes it, so our manager owning every field we send, and no
 * other manager owning anything in the parts we own whole, means nobody touched them.
 */
export function findDrift(desired: KubernetesObject, live: KubernetesObject): Drift | undefined {
  const entries = live.metadata?.managedFields ?? [];
  const ours = entries.find(isOurs)?.fieldsV1 as FieldSet | undefined;
  const missing: string[] = [];
  if (!ours) {
    missing.push('(every field: none is ours)');
  } else {
    const { metadata, apiVersion: _a, kind: _k, ...body } = desired as KubernetesObject & Record<string, unknown>;
    const owned = { labels: metadata?.labels, annotations: metadata?.annotations, ownerReferences: metadata?.ownerReferences };
    uncovered(owned, ours['f:metadata'], 'metadata', missing);
    uncovered(body, ours, '', missing);
  }
  const others = new Map<string, string>();
  for (const entry of entries) {
    if (isOurs(entry) || entry.subresource === 'status') continue;
    for (const path of OWNED_WHOLE[desired.kind ?? ''] ?? []) {
      const theirs = at(entry.fieldsV1 as FieldSet | undefined, path);
      if (!theirs) continue;
      const found: string[] = [];
      extra(theirs, at(ours, path), path.join('.'), found);
      for (const p of found) if (p !== RESTARTED_AT_PATH) others.set(p, entry.manager ?? 'unknown');
    }
  }
  const changed = missing.map((p) => (others.has(p) ? `${p} (changed by ${others.get(p)})` : `${p} (changed)`));
  const added = [...others].filter(([p]) => !missing.includes(p)).map(([p, manager]) => `${p} (added by ${manager})`);
  return changed.length + added.length > 0 ? { changed, added } : undefined;
}

/** A field-set fragment with only the parts we own whole, for the cache to keep instead of the whole managedFields. */
export function ownedWholeFields(kind: string, entry: V1ManagedFieldsEntry): V1ManagedFieldsEntry | undefined {
  if (isOurs(entry)) return entry;
  if (entry.subresource === 'status') return undefined;
  let kept: FieldSet | undefined;
  for (const path of OWNED_WHOLE[kind] ?? []) {
    const part = at(entry.fieldsV1 as FieldSet | undefined, path);
    if (part) kept = put(kept ?? {}, path, part);
  }
  return kept && { manager: entry.manager, operation: entry.operation, subresource: entry.subresource, fieldsV1: kept };
}

/**
 * JSON patch ops that put our version of the parts we own whole back in place, removing what
 * others added there, which a server-side apply cannot do (it only ever drops fields its own
 * manager owned). The cached resourceVersion is a precondition: the patch fails with a conflict
 * if the object moved on since the cache saw it.
 */
export function repairPatch(desired: KubernetesObject, live: KubernetesObject): object[] {
  const d = desired as KubernetesObject & { spec?: Record<string, unknown>; data?: unknown };
  const ops: object[] = [{ op: 'replace', path: '/metadata/resourceVersion', value: live.metadata?.resourceVersion }];
  switch (desired.kind) {
    case 'Deployment': {
      const spec = structuredClone(d.spec ?? {}) as { template?: { metadata?: { annotations?: Record<string, string> } } };
      const restartedAt = (live as { spec?: typeof spec }).spec?.template?.metadata?.annotations?.[RESTARTED_AT];
      if (restartedAt && spec.template?.metadata) spec.template.metadata.annotations = { ...spec.template.metadata.annotations, [RESTARTED_AT]: restartedAt };
      ops.push({ op: 'add', path: '/spec', value: spec });
      break;
    }
    case 'PodDisruptionBudget':
      ops.push({ op: 'add', path: '/spec', value: d.spec });
      break;
    case 'Service':
      for (const field of ['selector', 'ports', 'type']) ops.push({ op: 'add', path: `/spec/${field}`, value: d.spec?.[field] });
      break;
    case 'ConfigMap':
      ops.push({ op: 'add', path: '/data', value: d.data ?? {} }, { op: 'add', path: '/binaryData', value: {} });
      break;
    default:
      throw new Error(`no repair known for kind ${desired.kind}`);
  }
  return ops;
}

/** One line for an event: what was reverted, at most a few paths. */
export function describeDrift({ changed, added }: Drift, limit = 8): string {
  const all = [...changed, ...added];
  return all.length > limit ? `${all.slice(0, limit).join(', ')} and ${all.length - limit} more` : all.join(', ');
}

function isOurs(entry: V1ManagedFieldsEntry): boolean {
  return entry.manager === FIELD_MANAGER && entry.operation === 'Apply' && !entry.subresource;
}

function isLeaf(fields: FieldSet): boolean {
  return Object.keys(fields).length === 0;
}

function at(fields: FieldSet | undefined, path: string[]): FieldSet | undefined {
  let node = fields;
  for (const name of path) node = node?.[`f:${name}`];
  return node;
}

function put(fields: FieldSet, path: string[], value: FieldSet): FieldSet {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  return { ...fields, [`f:${head}`]: put(fields[`f:${head}`] ?? {}, rest, value) };
}

/** Appends to `out` the paths of `value` that `fields` does not hold. */
function uncovered(value: unknown, fields: FieldSet | undefined, path: string, out: string[]): void {
  // null in an apply removes a field, so it is never owned.
  if (value === undefined || value === null) return;
  if (!fields) {
    // Down to the fields of ours that are gone, as extra() names the ones others put there instead.
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [name, child] of Object.entries(value)) uncovered(child, undefined, `${path}.${name}`, out);
    } else {
      out.push(path);
    }
    return;
  }
  if (isLeaf(fields) || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const key = Object.keys(fields).find((k) => itemMatches(k, item, i));
      uncovered(item, key === undefined ? undefined : fields[key], `${path}[${key === undefined ? i : label(key)}]`, out);
    });
    return;
  }
  for (const [name, child] of Object.entries(value)) uncovered(child, fields[`f:${name}`], path ? `${path}.${name}` : name, out);
}

/** Whether a list entry's key (`k:{"name":"runtime"}`, `v:"x"`, `i:0`) names this item of ours. */
function itemMatches(key: string, item: unknown, index: number): boolean {
  if (key.startsWith('k:')) {
    if (item === null || typeof item !== 'object') return false;
    const keys = JSON.parse(key.slice(2)) as Record<string, unknown>;
    return Object.entries(keys).every(([k, v]) => JSON.stringify((item as Record<string, unknown>)[k]) === JSON.stringify(v));
  }
  if (key.startsWith('v:')) return key.slice(2) === JSON.stringify(item);
  return key === `i:${index}`;
}

/** Appends to `out` the paths in `theirs` that `ours` does not own: fields, or whole list items they added. */
function extra(theirs: FieldSet, ours: FieldSet | undefined, path: string, out: string[], isItem = false): void {
  if (ours && isLeaf(ours)) return;
  const children = Object.entries(theirs).filter(([key]) => key !== '.');
  if (!ours && (isItem || children.length === 0)) {
    out.push(path);
    return;
  }
  for (const [key, sub] of children) {
    const item = !key.startsWith('f:');
    extra(sub, ours?.[key], item ? `${path}[${label(key)}]` : `${path}.${key.slice(2)}`, out, item);
  }
}

/** `k:{"name":"runtime"}` -> `name=runtime`, for people. */
function label(key: string): string {
  if (!key.startsWith('k:')) return key.slice(2);
  return Object.entries(JSON.parse(key.slice(2)) as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`).join(',');
}
