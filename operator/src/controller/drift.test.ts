import { describe, expect, it } from 'vitest';
import type { KubernetesObject, V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { describeDrift, findDrift, ownedWholeFields, repairPatch } from './drift.js';

const desired = {
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'm', namespace: 'ml', labels: { app: 'm' } },
  spec: {
    replicas: 2,
    template: {
      metadata: { annotations: { hash: 'h' } },
      spec: { containers: [{ name: 'runtime', image: 'rt:1', ports: [{ containerPort: 8080, protocol: 'TCP' }] }], nodeSelector: null },
    },
  },
} as unknown as KubernetesObject;

/** Our Apply entry for `desired`, as the apiserver writes it. */
const ours = (): V1ManagedFieldsEntry => ({
  manager: 'sentiment-operator', operation: 'Apply',
  fieldsV1: {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:metadata': { 'f:annotations': { 'f:hash': {} } },
        'f:spec': { 'f:containers': { 'k:{"name":"runtime"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:ports': { 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } } } } },
      },
    },
  },
});
/** A path into a fieldsV1 tree, for tests that take a field from an entry. */
type Tree = { [key: string]: Tree };
const node = (entry: V1ManagedFieldsEntry, ...path: string[]): Tree => path.reduce((n, k) => n[k]!, entry.fieldsV1 as Tree);
const live = (...entries: V1ManagedFieldsEntry[]): KubernetesObject => ({ ...desired, metadata: { ...desired.metadata, resourceVersion: '9', managedFields: entries } });

describe('findDrift', () => {
  it('finds none when our manager owns every field we send and nobody else owns spec (status writers and null fields aside)', () => {
    const status = { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': { 'f:replicas': {} } } };
    const revision = { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } } };
    expect(findDrift(desired, live(ours(), status, revision))).toBeUndefined();
  });

  it('names fields someone changed, added inside a list item of ours, or added as a list item', () => {
    const mine = ours();
    delete node(mine, 'f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"runtime"}')['f:image'];
    const edit = {
      manager: 'kubectl-edit', operation: 'Update',
      fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"runtime"}': {
        'f:image': {}, 'f:env': { '.': {}, 'k:{"name":"NODE_OPTIONS"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
      } } } } } },
    };
    expect(findDrift(desired, live(mine, edit))).toEqual({
      changed: ['spec.template.spec.containers[name=runtime].image (changed by kubectl-edit)'],
      added: ['spec.template.spec.containers[name=runtime].env[name=NODE_OPTIONS] (added by kubectl-edit)'],
    });
  });

  it('names a field of ours removed by someone, and everything when none is ours', () => {
    const mine = ours();
    delete node(mine, 'f:spec')['f:replicas'];
    expect(findDrift(desired, live(mine))).toEqual({ changed: ['spec.replicas (changed)'], added: [] });
    expect(findDrift(desired, live())?.changed).toEqual(['(every field: none is ours) (changed)']);
  });

  it('keeps kubectl rollout restart\'s stamp', () => {
    const restart = { manager: 'kubectl-rollout', operation: 'Update', fieldsV1: { 'f:spec': { 'f:template': { 'f:metadata': { 'f:annotations': { 'f:kubectl.kubernetes.io/restartedAt': {} } } } } } };
    expect(findDrift(desired, live(ours(), restart))).toBeUndefined();
  });
});

describe('ownedWholeFields', () => {
  it('keeps our entry whole, of others only what lies in the parts we own, and no status writer', () => {
    expect(ownedWholeFields('Deployment', ours())).toEqual(ours());
    const other = { manager: 'argocd', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } }, 'f:spec': { 'f:paused': {} } } };
    expect(ownedWholeFields('Deployment', other)).toEqual({ manager: 'argocd', operation: 'Update', subresource: undefined, fieldsV1: { 'f:spec': { 'f:paused': {} } } });
    expect(ownedWholeFields('Service', other)).toBeUndefined();
    expect(ownedWholeFields('Deployment', { ...other, subresource: 'status' })).toBeUndefined();
  });
});

describe('repairPatch', () => {
  it('puts back the owned parts, keeping the restart stamp, on the version the cache saw', () => {
    const restarted = { ...live(), spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 't' } } } } } as KubernetesObject;
    const [precondition, spec] = repairPatch(desired, restarted) as { op: string; path: string; value: { template: { metadata: { annotations: object } } } }[];
    expect(precondition).toEqual({ op: 'replace', path: '/metadata/resourceVersion', value: '9' });
    expect(spec?.path).toBe('/spec');
    expect(spec?.value.template.metadata.annotations).toEqual({ hash: 'h', 'kubectl.kubernetes.io/restartedAt': 't' });
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'm' }, spec: { type: 'ClusterIP', selector: { a: 'b' }, ports: [{ port: 80 }] } };
    expect((repairPatch(service, live()) as { path: string }[]).map((o) => o.path)).toEqual(['/metadata/resourceVersion', '/spec/selector', '/spec/ports', '/spec/type']);
  });

  it('describes at most a few paths', () => {
    expect(describeDrift({ changed: ['a', 'b'], added: ['c'] }, 2)).toBe('a, b and 1 more');
  });
});
