import { parseArgs } from 'node:util';
import type { Static, TSchema } from 'typebox';
import Value from 'typebox/value';

/**
 * What the runtime's and the operator's config loaders share: settings arrive as strings from the
 * environment and flags, become what their schema wants, and are checked as a whole against it,
 * so both programs read `1` as true, name a bad setting the same way and fail with one error.
 */

/** An expected start-up failure: printed as one line, no stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type JsonObject = Record<string, unknown>;
type Node = TSchema & { type?: string; anyOf?: { type?: string; const?: unknown }[]; properties?: Record<string, Node> };

/** The schema of the setting at `path`, e.g. ['batching', 'maxBatchSize']. */
export function leafSchema(schema: TSchema, path: string[]): TSchema {
  let node = schema as Node;
  for (const key of path) node = node.properties![key]!;
  return node;
}

/**
 * Turns the string `raw` from `source` (a variable or a flag) into the schema's type, so that
 * validation reports ranges, not types. Lists are comma-separated; empty items are dropped, so an
 * empty string is an empty list.
 */
export function coerce(schema: TSchema, raw: string, source: string): unknown {
  const node = schema as Node;
  const type = node.type ?? node.anyOf?.[0]?.type ?? (node.anyOf?.[0] && typeof node.anyOf[0].const);
  switch (type) {
    case 'integer':
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new ConfigError(`config: ${source} must be a number (got "${raw}")`);
      return value;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(`config: ${source} must be true or false (got "${raw}")`);
    case 'array':
      return raw.split(',').map((item) => item.trim()).filter(Boolean);
    default:
      return raw;
  }
}

export function setPath(target: JsonObject, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as JsonObject;
  node[path[path.length - 1]!] = value;
}

/**
 * The operator's and the router's convention: each `--flag` sets one config path, its environment
 * variable (`envName(flag)`) the same path, and a flag wins over its variable. Writes into `input`.
 */
export function readFlagsAndEnv(input: JsonObject, schema: TSchema, flags: Record<string, string[]>, envName: (flag: string) => string, env: NodeJS.ProcessEnv, argv: string[]): void {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: argv, options: Object.fromEntries(Object.keys(flags).map((f) => [f, { type: 'string' as const }])), strict: true }).values;
  } catch (err) {
    throw new ConfigError(`flags: ${(err as Error).message}`);
  }
  for (const [flag, path] of Object.entries(flags)) {
    const [raw, source] = values[flag] !== undefined ? [values[flag], `--${flag}`] : [env[envName(flag)], envName(flag)];
    if (raw !== undefined) setPath(input, path, coerce(leafSchema(schema, path), raw, source));
  }
}

/**
 * Fills the schema's defaults into a copy of `input` and returns it, or throws one ConfigError
 * naming every problem. `relations` checks rules between fields, once each field is valid.
 */
export function validateSettings<T extends TSchema>(schema: T, input: unknown, relations: (settings: Static<T>) => string[] = () => []): Static<T> {
  const settings = Value.Default(schema, structuredClone(input ?? {})) as Static<T>;
  const errors = [...Value.Errors(schema, settings)];
  const problems = errors.length > 0 ? [...new Set(errors.flatMap((error) => describeError(schema, settings, error)))] : relations(settings);
  if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
  return settings;
}

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/**
 * One error in the words of someone who mistyped a setting: the values a closed set allows and
 * the keys an object knows, rather than the validator's account of which sub-schema failed.
 */
function describeError(schema: TSchema, settings: unknown, error: SchemaError): string[] {
  const key = dotted(error.instancePath);
  const got = JSON.stringify(valueAt(settings, error.instancePath));
  switch (error.keyword) {
    // `additionalProperties: false` reports each extra key twice: as a false schema and by name.
    case 'boolean':
      return [];
    case 'additionalProperties': {
      const known = Object.keys((schemaAt(schema, error.schemaPath) as Node).properties ?? {});
      return (error.params.additionalProperties as string[]).map((name) => `unknown key ${key === '(root)' ? name : `${key}.${name}`} (known keys${key === '(root)' ? '' : ` of ${key}`}: ${known.join(', ')})`);
    }
    // A closed set of strings fails `type` too when given a number; its `enum` error says more.
    case 'type':
      return 'enum' in (schemaAt(schema, error.schemaPath) as Node) ? [] : [`${key} ${error.message}`];
    case 'enum':
      return [`${key} must be one of ${(error.params.allowedValues as unknown[]).join(', ')} (got ${got})`];
    // A union of literals fails each `const`, then the `anyOf` around them.
    case 'const':
    case 'anyOf': {
      const union = schemaAt(schema, error.schemaPath.replace(/\/anyOf\/\d+$/, '')) as Node;
      const allowed = union.anyOf?.every((option) => 'const' in option) ? union.anyOf.map((option) => option.const) : undefined;
      if (allowed) return [`${key} must be one of ${allowed.join(', ')} (got ${got})`];
      return [`${key} ${error.message}`];
    }
    default:
      return [`${key} ${error.message}`];
  }
}

const segments = (pointer: string): string[] => pointer.split('/').slice(1).map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));

const dotted = (instancePath: string): string => segments(instancePath).join('.') || '(root)';

function schemaAt(schema: TSchema, schemaPath: string): unknown {
  return segments(schemaPath.replace(/^#/, '')).reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], schema);
}

function valueAt(value: unknown, instancePath: string): unknown {
  return segments(instancePath).reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], value);
}
