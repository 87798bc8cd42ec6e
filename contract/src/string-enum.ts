import Type from 'typebox';

/**
 * A closed set of strings as `{type: string, enum: [...]}`. A union of literals would be `anyOf`
 * of `const`s, which a CRD's structural schema rejects; the runtime's settings use this too, so
 * the CRD can take its fields from them.
 */
export function StringEnum<const T extends string[]>(values: [...T], options: { default?: T[number]; description?: string } = {}) {
  return Type.Enum(values, { type: 'string', ...options });
}
