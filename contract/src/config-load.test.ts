import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, coerce, leafSchema, validateSettings } from './config-load.js';

const Settings = Type.Object(
  {
    limits: Type.Object({ count: Type.Integer({ minimum: 1, default: 2 }), ratio: Type.Number({ default: 0.5 }) }, { additionalProperties: false, default: {} }),
    enabled: Type.Boolean({ default: false }),
    names: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    level: Type.Union([Type.Literal('info'), Type.Literal('debug')], { default: 'info' }),
    provider: Type.Enum(['cpu', 'cuda'], { type: 'string', default: 'cpu' }),
  },
  { additionalProperties: false },
);

describe('coerce', () => {
  it.each([
    [['limits', 'count'], '8', 8],
    [['limits', 'ratio'], '0.25', 0.25],
    [['enabled'], 'true', true],
    [['enabled'], '1', true],
    [['enabled'], 'false', false],
    [['enabled'], '0', false],
    [['names'], ' a, b ,,c ', ['a', 'b', 'c']],
    [['names'], '', []],
    [['level'], 'debug', 'debug'],
  ])('reads %j = %j as %j', (path, raw, value) => {
    expect(coerce(leafSchema(Settings, path), raw, 'X')).toEqual(value);
  });

  it.each([
    [['limits', 'count'], 'lots', 'config: --count must be a number (got "lots")'],
    [['limits', 'count'], ' ', 'config: --count must be a number (got " ")'],
    [['enabled'], 'yes', 'config: --count must be true or false (got "yes")'],
  ])('refuses %j = %j, naming the source', (path, raw, message) => {
    expect(() => coerce(leafSchema(Settings, path), raw, '--count')).toThrow(new ConfigError(message));
  });
});

describe('validateSettings', () => {
  it('fills defaults into a copy', () => {
    const input = { limits: { count: 3 } };
    expect(validateSettings(Settings, input)).toEqual({ limits: { count: 3, ratio: 0.5 }, enabled: false, names: [], level: 'info', provider: 'cpu' });
    expect(input).toEqual({ limits: { count: 3 } });
  });

  it('names every problem once, by path, in one error', () => {
    let message = '';
    try {
      validateSettings(Settings, { limits: { count: 0, extra: 1 }, other: true });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    const problems = message.replace(/^config: /, '').split('; ');
    expect(problems.toSorted()).toEqual(['limits.count must be >= 1', 'unknown key limits.extra (known keys of limits: count, ratio)', 'unknown key other (known keys: limits, enabled, names, level, provider)']);
  });

  it.each([
    [{ level: 'verbose' }, 'config: level must be one of info, debug (got "verbose")'],
    [{ provider: 'gpu' }, 'config: provider must be one of cpu, cuda (got "gpu")'],
    [{ provider: 3 }, 'config: provider must be one of cpu, cuda (got 3)'],
  ])('lists the allowed values of a closed set: %j', (input, message) => {
    expect(() => validateSettings(Settings, input)).toThrow(new ConfigError(message));
  });

  it('checks relations only once every field is valid', () => {
    const relations = () => ['limits.count must exceed the names'];
    expect(() => validateSettings(Settings, {}, relations)).toThrow('config: limits.count must exceed the names');
    expect(() => validateSettings(Settings, { enabled: 2 }, relations)).toThrow(/^config: enabled must be boolean$/);
  });
});
