import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, coerce, leafSchema, setPath, validateSettings } from '#contract/config-load.js';
import { RuntimeConfig, streamProblems } from '#contract/runtime-config.js';

type JsonObject = Record<string, unknown>;

export interface ConfigSources {
  /** Path of a JSON or YAML file (the operator mounts one). */
  file?: string | undefined;
  /** Environment, read for SENTIMENT_<SECTION>_<KEY> overrides. */
  env?: NodeJS.ProcessEnv;
  /** CLI flags as `--section.key=value` or `--section.key value`. */
  argv?: string[];
}

const ENV_PREFIX = 'SENTIMENT_';

/** Merges defaults <- file <- environment <- flags, then validates the result as a whole. */
export function loadConfig(sources: ConfigSources): RuntimeConfig {
  const merged: JsonObject = {};
  if (sources.file) deepMerge(merged, readConfigFile(sources.file), sources.file);
  deepMerge(merged, fromEnv(sources.env ?? {}), 'environment');
  deepMerge(merged, fromFlags(sources.argv ?? []), 'flags');
  return validateConfig(merged);
}

export function validateConfig(input: unknown): RuntimeConfig {
  return validateSettings(RuntimeConfig, input, streamProblems);
}

function readConfigFile(path: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`config: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text); // YAML is a superset of JSON, so one parser reads both.
  } catch (error) {
    throw new ConfigError(`config: ${path} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config: ${path} must hold a mapping of sections`);
  return parsed as JsonObject;
}

/**
 * SENTIMENT_BATCHING_MAX_BATCH_SIZE=16 -> batching.maxBatchSize = 16. Only variables naming one
 * of our sections are ours (so a typo there fails); other SENTIMENT_* names belong to tooling.
 */
function fromEnv(env: NodeJS.ProcessEnv): JsonObject {
  const out: JsonObject = {};
  const keys = leafKeys();
  const byEnvName = new Map(keys.map((path) => [ENV_PREFIX + path.map(toScreamingSnake).join('_'), path]));
  const sectionPrefixes = [...new Set(keys.map(([section]) => `${ENV_PREFIX}${toScreamingSnake(section!)}_`))];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !sectionPrefixes.some((prefix) => name.startsWith(prefix))) continue;
    const path = byEnvName.get(name);
    if (!path) {
      const prefix = sectionPrefixes.find((p) => name.startsWith(p))!;
      const siblings = [...byEnvName.keys()].filter((known) => known.startsWith(prefix));
      throw new ConfigError(`config: unknown environment variable ${name} (known: ${siblings.join(', ')})`);
    }
    setPath(out, path, coerce(leafSchema(RuntimeConfig, path), raw, name));
  }
  return out;
}

function fromFlags(argv: string[]): JsonObject {
  const out: JsonObject = {};
  const known = new Map(leafKeys().map((path) => [path.join('.'), path]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`config: unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const key = arg.slice(2, eq === -1 ? undefined : eq);
    const path = known.get(key);
    if (!path) throw new ConfigError(`config: unknown flag --${key} (${knownKeysNear(key)})`);
    const raw: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new ConfigError(`config: flag --${key} needs a value`);
    setPath(out, path, coerce(leafSchema(RuntimeConfig, path), raw, `--${key}`));
  }
  return out;
}

/** What a mistyped `section.key` could have meant: the section's keys, or the sections. */
function knownKeysNear(key: string): string {
  const sections = RuntimeConfig.properties as Record<string, { properties: Record<string, unknown> }>;
  const section = sections[key.split('.')[0]!];
  if (section) return `known keys of ${key.split('.')[0]}: ${Object.keys(section.properties).join(', ')}`;
  return `sections: ${Object.keys(sections).join(', ')}`;
}

function leafKeys(): string[][] {
  const sections = RuntimeConfig.properties as Record<string, { properties: Record<string, unknown> }>;
  return Object.entries(sections).flatMap(([section, schema]) => Object.keys(schema.properties).map((key) => [section, key]));
}

function toScreamingSnake(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function deepMerge(target: JsonObject, source: JsonObject, origin: string): void {
  for (const [key, value] of Object.entries(source)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const existing = target[key];
      if (existing !== undefined && (typeof existing !== 'object' || Array.isArray(existing))) {
        throw new ConfigError(`config: ${origin}: ${key} must be a mapping`);
      }
      target[key] ??= {};
      deepMerge(target[key] as JsonObject, value as JsonObject, origin);
    } else {
      target[key] = value;
    }
  }
}
