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

  it('when a joint call fails, tries each caller alone: only the caller whose texts fail gets the error', async () => {
    const encoder = new TextEncoder(TOKENIZER, 128);
    const original = Tokenizer.prototype.encodeBatch;
    const calls = vi.spyOn(Tokenizer.prototype, 'encodeBatch').mockImplementation(function (this: Tokenizer, ...args: Parameters<Tokenizer['encodeBatch']>) {
      if ((args[0] as string[]).includes('poison')) return Promise.reject(new Error('boom'));
      return original.apply(this, args);
    });
    const results = await Promise.allSettled([encoder.encode(['one']), encoder.encode(['poison']), encoder.encode(['two', 'three'])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'boom' });
    expect((results[2] as PromiseFulfilledResult<unknown[]>).value).toHaveLength(2);
    // The joint call, then one call per caller.
    expect(calls).toHaveBeenCalledTimes(4);
    expect((await encoder.encode(['four']))[0]!.ids.length).toBeGreaterThan(2);
  });

  it('a caller alone in its turn gets the error of its call, and the next call works', async () => {
    const encoder = new TextEncoder(TOKENIZER, 128);
    const calls = vi.spyOn(Tokenizer.prototype, 'encodeBatch').mockRejectedValueOnce(new Error('boom'));
    await expect(encoder.encode(['one'])).rejects.toThrow('boom');
    expect(calls).toHaveBeenCalledTimes(1);
    expect((await encoder.encode(['three']))[0]!.ids.length).toBeGreaterThan(2);
  });
});
