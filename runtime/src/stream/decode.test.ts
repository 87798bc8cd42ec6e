import { describe, expect, it } from 'vitest';
import { decodeInput } from './decode.js';

const whole = { maxBytes: 64, maxChars: 20 };
const field = { ...whole, field: ['payload', 'text'] };

describe('decodeInput', () => {
  it('takes a whole UTF-8 value as the text, or a string at a JSON field path', () => {
    expect(decodeInput(Buffer.from('Un film magnifique 🎬'), { ...whole, maxChars: 100 })).toEqual({ text: 'Un film magnifique 🎬' });
    expect(decodeInput(Buffer.from('{"payload":{"text":"great","lang":"en"}}'), field)).toEqual({ text: 'great' });
  });

  it.each([
    ['no value', null, whole, 'empty'],
    ['a zero-length value', Buffer.alloc(0), whole, 'empty'],
    ['whitespace', Buffer.from(' \n\t'), whole, 'empty'],
    ['an empty field', Buffer.from('{"payload":{"text":"  "}}'), field, 'empty'],
    ['more bytes than allowed', Buffer.alloc(65, 'a'), whole, 'too-large'],
    ['more characters than allowed', Buffer.from('a'.repeat(21)), whole, 'too-large'],
    ['a lone continuation byte', Buffer.from([0x61, 0x80, 0x62]), whole, 'not-utf8'],
    ['a truncated multi-byte sequence', Buffer.from([0xe6, 0x97]), field, 'not-utf8'],
    ['JSON cut short', Buffer.from('{"payload":'), field, 'invalid-json'],
    ['plain text where JSON is expected', Buffer.from('great film'), field, 'invalid-json'],
    ['a missing field', Buffer.from('{"payload":{}}'), field, 'missing-field'],
    ['a number at the field', Buffer.from('{"payload":{"text":5}}'), field, 'missing-field'],
    ['an array on the path', Buffer.from('{"payload":["text"]}'), field, 'missing-field'],
    ['a JSON scalar', Buffer.from('"text"'), field, 'missing-field'],
  ])('calls %s poison', (_what, value, options, reason) => {
    const decoded = decodeInput(value, options);
    expect(decoded).toMatchObject({ poison: reason });
    expect((decoded as { detail: string }).detail.length).toBeGreaterThan(0);
  });
});
