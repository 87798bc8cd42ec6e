/** Why a record cannot be classified; the dead-letter topic's reason header and a metric label. */
export const POISON_REASONS = ['empty', 'too-large', 'not-utf8', 'invalid-json', 'missing-field'] as const;
export type PoisonReason = (typeof POISON_REASONS)[number];

export type DecodedInput = { text: string } | { poison: PoisonReason; detail: string };

export interface DecodeOptions {
  /** Path of the text in a JSON value; absent: the whole value is the text. */
  field?: string[] | undefined;
  maxBytes: number;
  maxChars: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * A record value as the text to classify, or the reason it is poison. Record values come from
 * anyone who may write to the topic, so every way one can be wrong is an answer, never a throw.
 */
export function decodeInput(value: Buffer | undefined | null, options: DecodeOptions): DecodedInput {
  if (!value || value.length === 0) return { poison: 'empty', detail: 'record has no value' };
  if (value.length > options.maxBytes) return { poison: 'too-large', detail: `value has ${value.length} bytes (at most ${options.maxBytes})` };
  let decoded: string;
  try {
    decoded = utf8.decode(value);
  } catch {
    return { poison: 'not-utf8', detail: 'value is not valid UTF-8' };
  }
  let text: unknown = decoded;
  if (options.field) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoded);
    } catch (error) {
      return { poison: 'invalid-json', detail: `value is not JSON: ${(error as Error).message}` };
    }
    text = options.field.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined), parsed);
    if (typeof text !== 'string') return { poison: 'missing-field', detail: `${options.field.join('.')} is ${text === undefined ? 'missing' : `not a string (${text === null ? 'null' : typeof text})`}` };
  }
  const trimmed = (text as string).trim();
  if (trimmed === '') return { poison: 'empty', detail: 'text is empty' };
  if ((text as string).length > options.maxChars) return { poison: 'too-large', detail: `text has ${(text as string).length} characters (at most ${options.maxChars})` };
  return { text: text as string };
}
