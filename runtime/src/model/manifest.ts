import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Quantization } from '#contract/runtime-config.js';
import { ModelLoadError } from './errors.js';

/** What the runtime needs to know about a model directory before it opens any session. */
export interface ModelManifest {
  labels: string[];
  maxPositionEmbeddings: number;
  padTokenId: number;
  quantization: Quantization;
  onnxFile: string;
  tokenizerFile: string;
  /** config.json "language" (a tag or a list, as Hugging Face model cards write it); often absent. */
  languages: string[];
}

const ONNX_FILES: Record<Quantization, string> = {
  none: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  int8: 'onnx/model_quantized.onnx',
};
/** Without an explicit choice, full precision wins where the directory has it. */
const AUTO_ORDER: Quantization[] = ['none', 'int8', 'fp16'];

export interface ManifestOptions {
  quantization?: Quantization | undefined;
  labels?: string[] | undefined;
}

export function readManifest(dir: string, options: ManifestOptions): ModelManifest {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelLoadError(dir, 'model directory does not exist');
  const configFile = join(dir, 'config.json');
  const config = readJsonObject(configFile);

  // Every transformers config.json names its architecture; one without it is not an exported model.
  if (typeof config.model_type !== 'string' || config.model_type === '') throw new ModelLoadError(configFile, '"model_type" must be a non-empty string');
  const maxPositionEmbeddings = config.max_position_embeddings;
  if (!Number.isInteger(maxPositionEmbeddings) || (maxPositionEmbeddings as number) < 2) {
    throw new ModelLoadError(configFile, '"max_position_embeddings" must be an integer >= 2');
  }
  const padTokenId = config.pad_token_id ?? 0;
  if (!Number.isInteger(padTokenId) || (padTokenId as number) < 0) throw new ModelLoadError(configFile, '"pad_token_id" must be a non-negative integer');

  const labels = options.labels ?? labelsFromConfig(configFile, config.id2label);
  if (options.labels && config.id2label !== undefined) {
    const classes = Object.keys(config.id2label as object).length;
    if (classes !== options.labels.length) {
      throw new ModelLoadError(configFile, `id2label has ${classes} classes but ${options.labels.length} label names were configured`);
    }
  }

  const tokenizerFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerFile)) throw new ModelLoadError(tokenizerFile, 'file is missing');
  const tokenizerConfigFile = join(dir, 'tokenizer_config.json');
  if (existsSync(tokenizerConfigFile)) readJsonObject(tokenizerConfigFile);

  const quantization = options.quantization ?? AUTO_ORDER.find((q) => existsSync(join(dir, ONNX_FILES[q])));
  if (!quantization) throw new ModelLoadError(join(dir, 'onnx'), `no ONNX model found (looked for ${Object.values(ONNX_FILES).join(', ')})`);
  const onnxFile = join(dir, ONNX_FILES[quantization]);
  if (!existsSync(onnxFile)) throw new ModelLoadError(onnxFile, `file is missing (quantization "${quantization}" selects it)`);

  const language = config.language ?? [];
  const languages = typeof language === 'string' ? [language] : language;
  if (!Array.isArray(languages) || !languages.every((tag) => typeof tag === 'string' && tag !== '')) {
    throw new ModelLoadError(configFile, '"language" must be a language tag or a list of them');
  }

  return {
    labels,
    languages: languages as string[],
    maxPositionEmbeddings: maxPositionEmbeddings as number,
    padTokenId: padTokenId as number,
    quantization,
    onnxFile,
    tokenizerFile,
  };
}

function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ModelLoadError(file, 'file is missing or unreadable');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(file, `invalid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ModelLoadError(file, 'must hold a JSON object');
  return parsed as Record<string, unknown>;
}

/** id2label keys are class indices as strings; they must cover 0..n-1 exactly. */
function labelsFromConfig(file: string, id2label: unknown): string[] {
  if (id2label === null || typeof id2label !== 'object' || Array.isArray(id2label)) {
    throw new ModelLoadError(file, '"id2label" must map class indices to label names');
  }
  const entries = Object.entries(id2label as Record<string, unknown>);
  if (entries.length < 2) throw new ModelLoadError(file, '"id2label" must name at least 2 classes');
  const labels: string[] = new Array(entries.length);
  for (const [key, name] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || labels[index] !== undefined) {
      throw new ModelLoadError(file, `"id2label" keys must be the indices 0..${entries.length - 1} (got "${key}")`);
    }
    if (typeof name !== 'string' || name === '') throw new ModelLoadError(file, `"id2label"["${key}"] must be a non-empty string`);
    labels[index] = name;
  }
  return labels;
}
