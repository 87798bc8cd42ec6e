import { describe, expect, it } from 'vitest';
import { modelFromHeader, modelFromJson } from './select.js';

describe('model selection', () => {
  it('reads the header, trimmed; an empty one names nothing', () => {
    expect(modelFromHeader(' reviews ')).toBe('reviews');
    expect(modelFromHeader(['a', 'b'])).toBe('a');
    expect(modelFromHeader('')).toBeUndefined();
    expect(modelFromHeader(undefined)).toBeUndefined();
  });

  it('takes the model field out of the JSON body it forwards', () => {
    const { model, body } = modelFromJson(Buffer.from('{"model":"reviews","texts":["great"],"topK":1}'));
    expect(model).toBe('reviews');
    expect(JSON.parse(body.toString())).toEqual({ texts: ['great'], topK: 1 });
  });

  it('forwards a body without the field unchanged', () => {
    const original = Buffer.from('{"inputs": "great"}');
    expect(modelFromJson(original)).toEqual({ body: original });
    expect(modelFromJson(Buffer.from('[1]')).model).toBeUndefined();
  });

  it('refuses invalid JSON and a model that is not a name', () => {
    expect(() => modelFromJson(Buffer.from('{"model":'))).toThrow(/invalid JSON body/);
    expect(() => modelFromJson(Buffer.from('{"model":5}'))).toThrow(/must be a model name/);
  });
});
