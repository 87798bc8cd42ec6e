import { dominantScript } from '#contract/language.js';
import type { LanguageRoute } from './discovery/catalog.js';

/** The texts of one request that one model answers: their positions in the request, in order. */
export interface Part {
  /** The model's name; undefined for the requested model itself. */
  model: string | undefined;
  indexes: number[];
}

/**
 * The texts grouped by the model that answers them: a text goes to the first route whose
 * language is written in the script most of its words are in; a text that matches none, or has
 * no letters, stays with the requested model. Parts come in the order of their first text.
 */
export function splitByLanguage(texts: readonly string[], routes: readonly LanguageRoute[]): Part[] {
  const parts = new Map<string | undefined, Part>();
  texts.forEach((text, index) => {
    const script = dominantScript(text);
    const model = script === undefined ? undefined : routes.find((route) => route.scripts.includes(script))?.model;
    let part = parts.get(model);
    if (!part) parts.set(model, (part = { model, indexes: [] }));
    part.indexes.push(index);
  });
  return [...parts.values()];
}

/** Each part's results (in the order of its indexes) put back where their texts were in the request. */
export function reassemble<T>(count: number, parts: readonly { indexes: readonly number[]; results: readonly T[] }[]): T[] {
  const results = new Array<T>(count);
  let placed = 0;
  for (const { indexes, results: answered } of parts) {
    if (answered.length !== indexes.length) throw new Error(`a part of ${indexes.length} texts came back with ${answered.length} results`);
    indexes.forEach((index, i) => (results[index] = answered[i]!));
    placed += indexes.length;
  }
  if (placed !== count) throw new Error(`the parts hold ${placed} results for ${count} texts`);
  return results;
}
