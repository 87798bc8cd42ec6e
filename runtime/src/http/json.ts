import type { FastifyInstance } from 'fastify';
import { RuntimeError } from '../core/errors.js';

/**
 * Deepest JSON nesting any route accepts. Real requests nest 3 or 4 levels (V2 row-major data);
 * deeper bodies are refused before parsing, because everything that walks a parsed tree
 * recursively (schema validation, Array.prototype.flat, serializers) would run out of stack.
 */
const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * One linear pass over the raw text: brackets inside strings do not count. It never judges
 * validity; the parser that runs after it does. Works on UTF-8 bytes or on a string alike, since
 * no multi-byte sequence contains these ASCII codes.
 */
export function checkJsonDepth(text: string | Uint8Array): void {
  const length = text.length;
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < length; i++) {
    const code = at(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      if (++depth > MAX_JSON_DEPTH) throw new RuntimeError('Validation', `request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (code === CLOSE_BRACKET || code === CLOSE_BRACE) depth--;
  }
}

/** fastify's own JSON parser (with its prototype-poisoning checks), behind the depth cap. */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      checkJsonDepth(body as string);
    } catch (error) {
      done(error as RuntimeError, undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
