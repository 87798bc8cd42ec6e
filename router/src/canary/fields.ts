/** A named field of a parsed JSON object from outside; undefined for anything that is not a plain object. */
export function objectField(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}
