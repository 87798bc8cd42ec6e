/**
 * Reading the runtime's answers as one label (and, where the API gives them by name, one score
 * per class) per text, and comparing a stable and a candidate answer to the same request. Both
 * answers are untrusted: an answer not of its API's shape, or with a different number of texts,
 * is not compared at all rather than half-counted.
 */

import { objectField } from './fields.js';

/** The three inference APIs the runtime speaks (runtime/src/http/routes). */
export type InferenceApi = 'sentiment' | 'predict' | 'v2';

/** One text's answer: its label, and the score of each class the answer names. */
export interface TextAnswer {
  label: string;
  /** By label; absent where the API gives no per-class scores by name (V2) or not probabilities (TEI raw_scores). */
  scores?: Map<string, number>;
}

/** What one compared request adds to the canary series. */
export interface Comparison {
  compared: number;
  agreeing: number;
  negative: { stable: number; candidate: number };
  /** Per side and label: the sum of that class's score over the compared texts that scored it on both sides. */
  scoreSums: { stable: Map<string, number>; candidate: Map<string, number> };
}

/** A model has a handful of classes; more in one answer is not a classifier's answer, and every label is a series. */
const MAX_CLASSES = 32;
const MAX_LABEL_LENGTH = 128;

/**
 * The per-text answers in a 200 answer's parsed body, or undefined when it is not the API's shape.
 * `probabilities` is false for a TEI request with raw_scores (logits are no scores to average).
 */
export function textAnswers(api: InferenceApi, answer: unknown, probabilities = true): TextAnswer[] | undefined {
  switch (api) {
    case 'sentiment': {
      const results = objectField(answer, 'results');
      if (!Array.isArray(results)) return undefined;
      return all(results.map((result) => {
        const label = objectField(result, 'label');
        if (!isLabel(label)) return undefined;
        const scores = ranking(objectField(result, 'scores'));
        return scores ? { label, scores } : undefined;
      }));
    }
    case 'predict': {
      if (!Array.isArray(answer) || answer.length === 0) return undefined;
      // One text is answered by its ranking, a batch by one ranking per text.
      const rankings: unknown[] = Array.isArray(answer[0]) ? answer : [answer];
      return all(rankings.map((entry) => {
        const scores = ranking(entry);
        const best = Array.isArray(entry) ? objectField(entry[0], 'label') : undefined;
        if (!scores || !isLabel(best)) return undefined;
        return probabilities ? { label: best, scores } : { label: best };
      }));
    }
    case 'v2': {
      const outputs = objectField(answer, 'outputs');
      if (!Array.isArray(outputs)) return undefined;
      const labels = objectField(outputs.find((output) => objectField(output, 'name') === 'label'), 'data');
      if (!Array.isArray(labels) || !labels.every(isLabel)) return undefined;
      return (labels as string[]).map((label) => ({ label }));
    }
  }
}

/** The comparison of two answers to the same texts, or undefined when they do not answer the same number of texts. */
export function compare(stable: readonly TextAnswer[], candidate: readonly TextAnswer[], negativeLabel: string): Comparison | undefined {
  if (stable.length !== candidate.length || stable.length === 0) return undefined;
  const result: Comparison = { compared: stable.length, agreeing: 0, negative: { stable: 0, candidate: 0 }, scoreSums: { stable: new Map(), candidate: new Map() } };
  const negative = negativeLabel.toLowerCase();
  stable.forEach((s, i) => {
    const c = candidate[i]!;
    if (s.label === c.label) result.agreeing++;
    if (s.label.toLowerCase() === negative) result.negative.stable++;
    if (c.label.toLowerCase() === negative) result.negative.candidate++;
    // Only classes both sides scored: a class one side left out (topK) would bias its mean.
    if (!s.scores || !c.scores) return;
    for (const [label, score] of s.scores) {
      const other = c.scores.get(label);
      if (other === undefined) continue;
      add(result.scoreSums.stable, label, score);
      add(result.scoreSums.candidate, label, other);
    }
  });
  return result;
}

/** A ranking `[{label, score}, ...]` as scores by label; undefined for anything else. */
function ranking(value: unknown): Map<string, number> | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CLASSES) return undefined;
  const scores = new Map<string, number>();
  for (const entry of value) {
    const label = objectField(entry, 'label');
    const score = objectField(entry, 'score');
    if (!isLabel(label) || typeof score !== 'number' || !Number.isFinite(score) || scores.has(label)) return undefined;
    scores.set(label, score);
  }
  return scores;
}

function isLabel(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_LABEL_LENGTH;
}

function all<T>(items: (T | undefined)[]): T[] | undefined {
  return items.every((item) => item !== undefined) ? (items as T[]) : undefined;
}

function add(sums: Map<string, number>, label: string, score: number): void {
  sums.set(label, (sums.get(label) ?? 0) + score);
}
