import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CRD_FILE, sentimentModelCRD, sentimentModelCRDYaml } from './crd.js';

type Node = Record<string, unknown> & { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node };

const ALLOWED_KEYS = new Set([
  'type', 'format', 'description', 'properties', 'required', 'items', 'additionalProperties', 'enum', 'default',
  'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'maxProperties',
  'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys',
]);

/** Every schema node with its path, depth first. */
function* walk(node: Node, path: string): Generator<[string, Node]> {
  yield [path, node];
  for (const [key, child] of Object.entries(node.properties ?? {})) yield* walk(child, `${path}.${key}`);
  if (node.items) yield* walk(node.items, `${path}[]`);
  if (node.additionalProperties) yield* walk(node.additionalProperties, `${path}{}`);
}

const version = sentimentModelCRD().spec.versions[0]!;
const root = version.schema!.openAPIV3Schema as Node;
const nodes = [...walk(root, '')];

describe('generated CRD files', () => {
  it.each(['crds', 'charts/sentiment-operator/crds'])('%s matches the code (run `npm run generate`)', (dir) => {
    const committed = readFileSync(fileURLToPath(new URL(`../../../../${dir}/${CRD_FILE}`, import.meta.url)), 'utf8');
    expect(committed).toBe(sentimentModelCRDYaml());
  });
});

describe('structural schema', () => {
  it('gives every node a type', () => {
    expect(nodes.filter(([, n]) => typeof n.type !== 'string').map(([p]) => p)).toEqual([]);
  });

  it('uses only keywords a CRD accepts (no $id, const, anyOf, patternProperties, ...)', () => {
    const bad = nodes.flatMap(([p, n]) => Object.keys(n).filter((k) => !ALLOWED_KEYS.has(k)).map((k) => `${p}: ${k}`));
    expect(bad).toEqual([]);
  });

  it('never combines properties with additionalProperties', () => {
    expect(nodes.filter(([, n]) => n.properties && 'additionalProperties' in n).map(([p]) => p)).toEqual([]);
  });

  it('lists only existing, non-defaulted fields as required', () => {
    for (const [path, n] of nodes) {
      for (const key of (n.required as string[] | undefined) ?? []) {
        expect(n.properties?.[key], `${path}.${key}`).toBeDefined();
        expect(n.properties?.[key]?.default, `${path}.${key}`).toBeUndefined();
      }
    }
  });

  it('bounds every string, list and map under spec so CEL cost estimates stay within limits', () => {
    const unbounded = nodes
      .filter(([p]) => p.startsWith('.spec'))
      .filter(([, n]) =>
        (n.type === 'string' && n.maxLength === undefined && n.enum === undefined) ||
        (n.type === 'array' && n.maxItems === undefined) ||
        (n.type === 'object' && n.additionalProperties !== undefined && n.maxProperties === undefined),
      )
      .map(([p]) => p);
    expect(unbounded).toEqual([]);
  });

  it('describes every field, so `kubectl explain` and docs/api.md never say <no description>', () => {
    // metadata is ObjectMeta, described by the apiserver, which refuses anything beside its type.
    const undescribed = nodes.filter(([path, node]) => path !== '' && path !== '.metadata' && !path.endsWith('[]') && !path.endsWith('{}') && !(typeof node.description === 'string' && node.description.length > 0));
    expect(undescribed.map(([path]) => path)).toEqual([]);
  });

  it('gives every CEL rule a message', () => {
    const rules = nodes.flatMap(([, n]) => (n['x-kubernetes-validations'] as { message?: string }[] | undefined) ?? []);
    expect(rules.length).toBeGreaterThanOrEqual(15);
    expect(rules.filter((r) => !r.message)).toEqual([]);
  });
});

describe('CRD shape', () => {
  it('is a namespaced sentimentmodels.serving.sentiment.dev with short name sentm', () => {
    const crd = sentimentModelCRD();
    expect(crd.metadata?.name).toBe('sentimentmodels.serving.sentiment.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toEqual(['sentm']);
  });

  it('has status and scale subresources wired to spec.replicas and status.selector', () => {
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });

  it('prints READY, REPLICAS, MODEL, ROLLING-TO, QUANT, CANARY, STEP (wide), GPU, ENDPOINT, AGE', () => {
    expect(version.additionalPrinterColumns?.map((c) => c.name.toUpperCase())).toEqual(['READY', 'REPLICAS', 'MODEL', 'ROLLING-TO', 'QUANT', 'CANARY', 'STEP', 'GPU', 'ENDPOINT', 'AGE']);
    expect(version.additionalPrinterColumns?.find((c) => c.name === 'Step')?.priority).toBe(1);
  });

  it('shows in MODEL and QUANT what serves while a rollout moves to another model, named in ROLLING-TO', () => {
    const [serving, next] = [{ templateHash: 'a', model: 'm:1', quantization: 'int8' }, { templateHash: 'b', model: 'm:2', quantization: 'none' }];
    const column = (name: string, object: object) => {
      const path = version.additionalPrinterColumns!.find((c) => c.name === name)!.jsonPath;
      return path.split('.').slice(1).reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], object);
    };
    const rolling = { spec: { model: { image: { reference: 'm:2' } }, quantization: 'none' }, status: { model: 'm:2', revisions: { serving, rollingOutTo: next } } };
    expect(['Model', 'Rolling-To', 'Quant'].map((name) => column(name, rolling))).toEqual(['m:1', 'm:2', 'int8']);
    const done = { ...rolling, status: { model: 'm:2', revisions: { serving: next } } };
    expect(['Model', 'Rolling-To', 'Quant'].map((name) => column(name, done))).toEqual(['m:2', undefined, 'none']);
  });

  it('keys conditions by type, as metav1.Condition lists are', () => {
    const conditions = root.properties?.status?.properties?.conditions;
    expect(conditions?.['x-kubernetes-list-type']).toBe('map');
    expect(conditions?.['x-kubernetes-list-map-keys']).toEqual(['type']);
  });
});
