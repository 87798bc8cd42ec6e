import type { RuntimeConfig } from '#contract/runtime-config.js';
import { RuntimeError } from '../core/errors.js';

/**
 * Request limits every inference route applies before any work is queued. The schemas cannot say
 * these: the limits come from the config, and each route has its own way of listing texts.
 */
export function checkTexts(texts: unknown[], config: RuntimeConfig): asserts texts is string[] {
  if (texts.length === 0) throw new RuntimeError('Validation', 'no texts given');
  if (texts.length > config.server.maxTextsPerRequest) {
    throw new RuntimeError('PayloadTooLarge', `too many texts: ${texts.length} (at most ${config.server.maxTextsPerRequest} per request)`);
  }
  texts.forEach((text, i) => {
    if (typeof text !== 'string') throw new RuntimeError('Validation', `text ${i} must be a string`);
    if (text.trim() === '') throw new RuntimeError('Validation', `text ${i} is empty`);
    if (text.length > config.server.maxTextChars) {
      throw new RuntimeError('PayloadTooLarge', `text ${i} has ${text.length} characters (at most ${config.server.maxTextChars})`);
    }
  });
}
