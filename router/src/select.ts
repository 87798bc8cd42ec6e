import { RouterError } from './http/errors.js';

/** The header that names the model, on any route. */
export const MODEL_HEADER = 'sentiment-model';
/** The JSON field of /v1/sentiment and /predict bodies that names the model; the router removes it before forwarding. */
export const MODEL_FIELD = 'model';

export function modelFromHeader(value: string | string[] | undefined): string | undefined {
  const name = Array.isArray(value) ? value[0] : value;
  return name?.trim() || undefined;
}

/**
 * The model a JSON body names and the body to forward without that field (the runtime's request
 * schemas refuse fields they do not know). Throws Validation for a body that is not a JSON object.
 */
export function modelFromJson(body: Buffer): { model?: string; body: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new RouterError('Validation', `invalid JSON body: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { body };
  const fields = parsed as Record<string, unknown>;
  const model = fields[MODEL_FIELD];
  if (model === undefined) return { body };
  if (typeof model !== 'string' || model === '') throw new RouterError('Validation', `"${MODEL_FIELD}" must be a model name (a non-empty string)`);
  delete fields[MODEL_FIELD];
  return { model, body: Buffer.from(JSON.stringify(fields)) };
}

/** The message for a request that names no model at all. */
export const NO_MODEL = `name the model: the V2 path (/v2/models/<name>/infer), a "${MODEL_HEADER}" header, or a "${MODEL_FIELD}" field in the JSON body; GET /v1/models lists them`;
