import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TextEncoder } from './tokenizer.js';

const TOKENIZER = fileURLToPath(new URL('../../../models/sst2-bert-mini-en/tokenizer.json', import.meta.url));

describe('TextEncoder', () => {
  afterEach(() => vi.restoreAllMocks());

  it('encodes the texts of requests made in one turn in one call, each caller getting its own texts in order', async () => {
    const encoder = new TextEncoder(TOKENIZER, 128);
    const alone: number[][][] = [];
    for (const texts of [['a great movie'], ['terrible', 'not bad at all'], ['fine']]) alone.push((await encoder.encode(texts)).map((e) => e.ids));
    const calls = vi.spyOn(Tokenizer.prototype, 'encodeBatch');
    const together = await Promise.all([encoder.encode(['a great movie']), encoder.encode(['terrible', 'not bad at all']), encoder.encode(['fine'])]);
    expect(calls).toHaveBeenCalledTimes(1);
    expect(calls.mock.calls[0]![0]).toEqual(['a great movie', 'terrible', 'not bad at all', 'fine']);
    expect(together.map((encoded) => encoded.map((e) => e.ids))).toEqual(alone);
    // Requests of a later turn go in a call of their own.
    await encoder.encode(['later']);
    expect(calls).toHaveBeenCalledTimes(2);
  });

  it('fails every caller of a call that fails, and the next call works', async () => {
    const encoder = new TextEncoder(TOKENIZER, 128);
    vi.spyOn(Tokenizer.prototype, 'encodeBatch').mockRejectedValueOnce(new Error('boom'));
    const results = await Promise.allSettled([encoder.encode(['one']), encoder.encode(['two'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((await encoder.encode(['three']))[0]!.ids.length).toBeGreaterThan(2);
  });
});
