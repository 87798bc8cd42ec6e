// Writes docs/api.md, the SentimentModel API reference, from the same TypeBox schema that the CRD
// is generated from (operator/src/api/v1alpha1): every field with its type, default, validation
// (bounds, patterns, enums and the CEL rules the apiserver enforces) and description.
//   npm run docs:api
// A test fails when docs/api.md differs from what renderApiReference() returns.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { V1CustomResourceDefinitionVersion, V1JSONSchemaProps } from '@kubernetes/client-node';
import { CRD_FILE, sentimentModelCRD } from '../operator/src/api/v1alpha1/crd.js';

export const API_DOC_FILE = join('docs', 'api.md');

type Schema = V1JSONSchemaProps & Record<string, unknown>;
interface CelRule { rule: string; message?: string; fieldPath?: string }
interface Row { path: string; node: Schema; required: boolean }

/** Depth-first rows: an object's own row first, then its fields in declaration order, array items as `[]`. */
function rows(node: Schema, path: string, required: boolean, out: Row[] = []): Row[] {
  out.push({ path, node, required });
  const requiredKeys = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) rows(child as Schema, `${path}.${key}`, requiredKeys.has(key), out);
  const items = node.items as Schema | undefined;
  if (items?.properties) {
    const itemRequired = new Set(items.required ?? []);
    for (const [key, child] of Object.entries(items.properties)) rows(child as Schema, `${path}[].${key}`, itemRequired.has(key), out);
  }
  return out;
}

function typeOf(node: Schema): string {
  if (node['x-kubernetes-preserve-unknown-fields']) return 'object (free-form)';
  if (node.type === 'array') {
    const items = node.items as Schema | undefined;
    return `[]${items ? typeOf(items) : 'any'}`;
  }
  if (node.type === 'object' && node.additionalProperties && !node.properties) {
    return `map[string]${typeOf(node.additionalProperties as Schema)}`;
  }
  const format = node.format ? ` (${node.format})` : '';
  return `${node.type ?? 'any'}${format}`;
}

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

function defaultOf(node: Schema): string {
  if (node.default === undefined) return '';
  // Object defaults are the fields' own defaults spelled out (crd.ts expandDefault); the rows below list them.
  if (node.type === 'object' && typeof node.default === 'object') return code({});
  return code(node.default);
}

function validationOf(row: Row): string {
  const n = row.node;
  const parts: string[] = [];
  if (row.required) parts.push('required');
  if (n.enum) parts.push(`one of ${(n.enum as unknown[]).map(code).join(', ')}`);
  if (n.minimum !== undefined && n.maximum !== undefined) parts.push(`${n.minimum} to ${n.maximum}`);
  else if (n.minimum !== undefined) parts.push(`≥ ${n.minimum}`);
  else if (n.maximum !== undefined) parts.push(`≤ ${n.maximum}`);
  if (n.minLength !== undefined && n.maxLength !== undefined) parts.push(`${n.minLength} to ${n.maxLength} characters`);
  else if (n.maxLength !== undefined) parts.push(`at most ${n.maxLength} characters`);
  if (n.pattern) parts.push(`matches ${code(n.pattern)}`);
  if (n.minItems !== undefined) parts.push(`at least ${n.minItems} items`);
  if (n.maxItems !== undefined) parts.push(`at most ${n.maxItems} items`);
  if (n['x-kubernetes-list-map-keys']) parts.push(`unique by ${(n['x-kubernetes-list-map-keys'] as string[]).map(code).join(', ')}`);
  if (n.maxProperties !== undefined) parts.push(`at most ${n.maxProperties} entries`);
  const values = n.additionalProperties as Schema | undefined;
  if (values?.maxLength !== undefined) parts.push(`values at most ${values.maxLength} characters`);
  for (const rule of (n['x-kubernetes-validations'] ?? []) as CelRule[]) parts.push(`${rule.message ?? rule.rule}${rule.fieldPath ? ` (on ${code(rule.fieldPath.slice(1))})` : ''}`);
  return parts.join('; ');
}

/** GitHub tables split cells on `|`, even inside code spans, unless it is escaped. */
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(list: Row[], columns: ('default' | 'validation')[]): string {
  const head = ['Field', 'Type', ...columns.map((c) => (c === 'default' ? 'Default' : 'Validation')), 'Description'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const row of list) {
    const extra = columns.map((c) => (c === 'default' ? defaultOf(row.node) : validationOf(row)));
    lines.push(`| ${[code(row.path), typeOf(row.node), ...extra, row.node.description ?? ''].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

function celRules(list: Row[]): string {
  const lines = ['| Reported on | Rule (CEL) | Message |', '|---|---|---|'];
  for (const row of list) {
    for (const rule of (row.node['x-kubernetes-validations'] ?? []) as CelRule[]) {
      const where = row.path + (rule.fieldPath ?? '');
      lines.push(`| ${[code(where), code(rule.rule), rule.message ?? ''].map(cell).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** The whole of docs/api.md. */
export function renderApiReference(): string {
  const crd = sentimentModelCRD();
  const version = crd.spec.versions[0] as V1CustomResourceDefinitionVersion;
  const root = version.schema?.openAPIV3Schema as Schema;
  const props = root.properties as Record<string, Schema>;
  const spec = rows(props.spec as Schema, 'spec', true);
  const status = rows(props.status as Schema, 'status', false);
  const { names } = crd.spec;
  const objectRules = ((root['x-kubernetes-validations'] ?? []) as CelRule[]).map((r) => `- ${r.message ?? r.rule}: ${code(r.rule)}`);
  return [
    '<!-- Code generated by `npm run docs:api` (hack/gen-api-docs.ts) from operator/src/api/v1alpha1. DO NOT EDIT. -->',
    '',
    '# SentimentModel API reference',
    '',
    `\`apiVersion: ${crd.spec.group}/${version.name}\`, \`kind: ${names.kind}\`: ${root.description ?? ''} Namespaced; ` +
      `short name \`${names.shortNames?.join('`, `')}\`; the scale subresource maps \`spec.replicas\`. ` +
      `The CRD (\`crds/${CRD_FILE}\`) is generated from the same source, so the apiserver ` +
      'applies exactly these defaults and checks; `kubectl explain sentimentmodel.spec` shows the same descriptions.',
    '',
    'Fields with a default may be omitted. Required means the field must be set whenever its parent is. ' +
      'Bounds are inclusive. Messages in the Validation column are the apiserver\'s answers when a CEL rule fails; ' +
      'the rules themselves are listed under [Validation rules](#validation-rules).',
    '',
    '## Object',
    '',
    ...objectRules,
    '',
    '## spec',
    '',
    table(spec, ['default', 'validation']),
    '',
    '## status',
    '',
    'Written by the operator only.',
    '',
    table(status, []),
    '',
    '## Validation rules',
    '',
    celRules([{ path: names.kind, node: root, required: true }, ...spec]),
    '',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  // npm runs scripts from the package root, which is where docs/ belongs.
  const file = join(process.cwd(), API_DOC_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderApiReference());
  console.log(`wrote ${API_DOC_FILE}`);
}
