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
 * Fills the schema's defaults into a copy of `input` and returns it, or throws one ConfigError
 * naming every problem. `relations` checks rules between fields, once each field is valid.
 */
export function validateSettings<T extends TSchema>(schema: T, input: unknown, relations: (settings: Static<T>) => string[] = () => []): Static<T> {
  const settings = Value.Default(schema, structuredClone(input ?? {})) as Static<T>;
  const errors = [...Value.Errors(schema, settings)];
  const problems = errors.length > 0 ? [...new Set(errors.map(describeError))] : relations(settings);
  if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
  return settings;
}

function describeError(error: { keyword: string; instancePath: string; params: Record<string, unknown>; message: string }): string {
  const key = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params.additionalProperties as string[]).map((name) => (key === '(root)' ? name : `${key}.${name}`));
    return `unknown key ${extra.join(', ')}`;
  }
  return `${key} ${error.message}`;
}
