import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../api/v1alpha1/index.js';
import { Applier } from './apply.js';
import { Memory, type AppliedChild } from './memory.js';
import type { KubeWriter } from '../kube/writer.js';

function fakeWriter() {
  const applied: KubernetesObject[] = [];
  const patched: object[][] = [];
  let version = 100;
  const writer = {
    apply: async (obj: KubernetesObject) => (applied.push(obj), String(++version)),
    patch: async (_: KubernetesObject, ops: object[]) => (patched.push(ops), String(++version)),
  } as unknown as KubeWriter;
  return { writer, applied, patched };
}

const desired = (data: string): KubernetesObject & { data: Record<string, string> } =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-runtime-config', namespace: 'ml' }, data: { 'config.yaml': data } });

/** The child as the cache would show it after our apply of `obj`, with what other managers own. */
function liveOf(obj: KubernetesObject, resourceVersion: string, others: { manager: string; fieldsV1: object }[] = []): KubernetesObject {
  const annotations = Object.fromEntries(Object.keys(obj.metadata?.annotations ?? {}).map((k) => [`f:${k}`, {}]));
  const ours = { manager: 'sentiment-operator', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:annotations': annotations }, 'f:data': { 'f:config.yaml': {} } } };
  return { ...obj, metadata: { ...obj.metadata, resourceVersion, uid: 'u', managedFields: [ours, ...others.map((o) => ({ ...o, operation: 'Update' }))] } };
}

describe('Applier', () => {
  it('creates a missing child with the hash of what it applied', async () => {
    const { writer, applied } = fakeWriter();
    expect((await new Applier(writer).apply(new Map(), desired('a'), undefined)).outcome).toBe('created');
    expect(applied[0]?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH]).toMatch(/^[a-f0-9]{64}$/);
  });

  it('leaves a live child alone whose hash matches and whose fields nobody else changed', async () => {
    const { writer, applied } = fakeWriter();
    await new Applier(writer).apply(new Map(), desired('a'), undefined);
    const live = liveOf(applied[0]!, '7');
    const applier = new Applier(writer);
    const memory = new Map<string, AppliedChild>();
    expect((await applier.apply(memory, desired('a'), live)).outcome).toBe('unchanged');
    expect((await applier.apply(memory, desired('b'), live)).outcome).toBe('updated');
    expect(applied).toHaveLength(2);
  });

  it('does not re-apply while the cache still shows the object from before its own write', async () => {
    const { writer, applied } = fakeWriter();
    const applier = new Applier(writer);
    const memory = new Map<string, AppliedChild>();
    expect((await applier.apply(memory, desired('a'), undefined)).outcome).toBe('created');
    expect((await applier.apply(memory, desired('a'), undefined)).outcome).toBe('unchanged');
    expect(applied).toHaveLength(1);
  });

  it('applies again once the cache saw the child deleted, the model was forgotten or made again', async () => {
    const { writer, applied } = fakeWriter();
    const applier = new Applier(writer);
    const memory = new Memory();
    const applyDemo = async () => (await applier.apply(memory.of('ml/demo', 'uid-1').applied, desired('a'), undefined)).outcome;
    await applyDemo();
    memory.childDeleted('ml/demo', 'ConfigMap', 'demo-runtime-config');
    expect(await applyDemo()).toBe('created');
    memory.forget('ml/demo');
    expect(await applyDemo()).toBe('created');
    expect((await applier.apply(memory.of('ml/demo', 'uid-2').applied, desired('a'), undefined)).outcome).toBe('created');
    expect(applied).toHaveLength(4);
  });

  it('re-applies a child someone edited, even right after its own write of the same object', async () => {
    const { writer, applied, patched } = fakeWriter();
    const applier = new Applier(writer);
    const memory = new Map<string, AppliedChild>();
    await applier.apply(memory, desired('a'), undefined);
    // kubectl edit changed config.yaml and added a key, so it owns both now and our manager owns no data.
    const edited = liveOf(applied[0]!, '200', [{ manager: 'kubectl-edit', fieldsV1: { 'f:data': { 'f:config.yaml': {}, 'f:extra': {} } } }]);
    delete (edited.metadata!.managedFields![0]!.fieldsV1 as Record<string, unknown>)['f:data'];
    const result = await applier.apply(memory, desired('a'), edited);
    expect(result.outcome).toBe('corrected');
    expect(result.drift).toEqual({ changed: ['data.config.yaml (changed by kubectl-edit)'], added: ['data.extra (added by kubectl-edit)'] });
    // A JSON patch puts our data back (with the cached version as precondition), then the apply owns it again.
    expect(patched[0]).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '200' },
      { op: 'add', path: '/data', value: { 'config.yaml': 'a' } },
      { op: 'add', path: '/binaryData', value: {} },
    ]);
    expect(applied).toHaveLength(2);
    // Until the cache shows that write (or the patch before it), nothing more is sent.
    expect((await applier.apply(memory, desired('a'), edited)).outcome).toBe('unchanged');
    expect((await applier.apply(memory, desired('a'), { ...edited, metadata: { ...edited.metadata, resourceVersion: '102' } })).outcome).toBe('unchanged');
    expect(applied).toHaveLength(2);
  });

  it('a field of ours removed by someone comes back by apply alone', async () => {
    const { writer, applied, patched } = fakeWriter();
    await new Applier(writer).apply(new Map(), desired('a'), undefined);
    const live = liveOf(applied[0]!, '7');
    delete (live.metadata!.managedFields![0]!.fieldsV1 as Record<string, unknown>)['f:data'];
    const result = await new Applier(writer).apply(new Map(), desired('a'), live);
    expect(result).toEqual({ outcome: 'corrected', drift: { changed: ['data.config.yaml (changed)'], added: [] } });
    expect(patched).toHaveLength(0);
    expect(applied).toHaveLength(2);
  });
});
