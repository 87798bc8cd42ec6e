import { describe, expect, it } from 'vitest';
import { boundedText, parseSamples, readSample } from './metrics-text.js';

describe('parseSamples', () => {
  const names = new Set(['a_total', 'b']);

  it('reads the named series with their labels, escaped quotes and backslashes unescaped', () => {
    const text = ['# HELP a_total x', 'a_total{k="v",q="say \\"hi\\"",p="a\\\\b"} 3 1700000000000', 'b 1.5', 'c 9'].join('\n');
    expect(parseSamples(text, names)).toEqual([
      { name: 'a_total', labels: { k: 'v', q: 'say "hi"', p: 'a\\b' }, value: 3 },
      { name: 'b', labels: {}, value: 1.5 },
    ]);
  });

  it('keeps NaN and infinities for the reader to judge, and skips lines that do not parse', () => {
    const text = ['b NaN', 'b +Inf', 'b -Inf', 'a_total{k="v" 7', 'a_total{k="v",bad} 7', 'garbage {', '<html>'].join('\n');
    const values = parseSamples(text, names).map((s) => s.value);
    expect(values).toEqual([NaN, Infinity, -Infinity]);
  });

  it('keeps a label named __proto__ a plain key', () => {
    const [sample] = parseSamples('b{__proto__="x"} 1', names);
    expect(Object.keys(sample!.labels)).toEqual(['__proto__']);
    expect(sample!.labels.__proto__).toBe('x');
  });
});

describe('readSample', () => {
  it('finds the sample with the given labels, if finite', () => {
    const text = 'b{phase="x"} 1\nb{phase="y"} 2\nb{phase="z"} NaN';
    expect(readSample(text, 'b', { phase: 'y' })).toBe(2);
    expect(readSample(text, 'b', { phase: 'z' })).toBeUndefined();
    expect(readSample(text, 'b', { phase: 'w' })).toBeUndefined();
  });
});

describe('boundedText', () => {
  it('reads a body only up to its bound', async () => {
    expect(await boundedText(new Response('abc'), 1024)).toBe('abc');
    expect(await boundedText(new Response('x'.repeat(2048)), 1024)).toBeUndefined();
  });
});
