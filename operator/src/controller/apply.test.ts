import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_HASH } from '../api/v1alpha1/index.js';
import { Applier } from './apply.js';
import { Memory } from './memory.js';
import type { KubeWriter } from '../kube/writer.js';

function fakeWriter() {
  const applied: KubernetesObject[] = [];
  const writer = { apply: async (obj: KubernetesObject) => (applied.push(obj), obj) } as unknown as KubeWriter;
  return { writer, applied };
}

const desired = (data: string): KubernetesObject & { data: Record<string, string> } =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-runtime-config', namespace: 'ml' }, data: { 'config.yaml': data } });

describe('Applier', () => {
  it('creates a missing child with the hash of what it applied', async () => {
    const { writer, applied } = fakeWriter();
    expect(await new Applier(writer).apply(new Map(), desired('a'), undefined)).toBe('created');
    expect(applied[0]?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH]).toMatch(/^[a-f0-9]{64}$/);
  });

  it('leaves a live child alone whose hash matches, whatever the server added to it', async () => {
    const { writer, applied } = fakeWriter();
    await new Applier(writer).apply(new Map(), desired('a'), undefined);
    const live = { ...applied[0], metadata: { ...applied[0]?.metadata, resourceVersion: '7', uid: 'u', managedFields: [] } };
    const applier = new Applier(writer);
    const memory = new Map<string, string>();
    expect(await applier.apply(memory, desired('a'), live)).toBe('unchanged');
    expect(await applier.apply(memory, desired('b'), live)).toBe('updated');
    expect(applied).toHaveLength(2);
  });

  it('does not re-apply while the cache still shows the object from before its own write', async () => {
    const { writer, applied } = fakeWriter();
    const applier = new Applier(writer);
    const memory = new Map<string, string>();
    expect(await applier.apply(memory, desired('a'), undefined)).toBe('created');
    expect(await applier.apply(memory, desired('a'), undefined)).toBe('unchanged');
    expect(applied).toHaveLength(1);
  });

  it('applies again once the cache saw the child deleted, the model was forgotten or made again', async () => {
    const { writer, applied } = fakeWriter();
    const applier = new Applier(writer);
    const memory = new Memory();
    const applyDemo = () => applier.apply(memory.of('ml/demo', 'uid-1').applied, desired('a'), undefined);
    await applyDemo();
    memory.childDeleted('ml/demo', 'ConfigMap', 'demo-runtime-config');
    expect(await applyDemo()).toBe('created');
    memory.forget('ml/demo');
    expect(await applyDemo()).toBe('created');
    expect(await applier.apply(memory.of('ml/demo', 'uid-2').applied, desired('a'), undefined)).toBe('created');
    expect(applied).toHaveLength(4);
  });
});
