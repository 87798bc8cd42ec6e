import type { Prediction } from '../core/infer.js';
import { foreignScripts, scriptNames } from '#contract/language.js';
import type { ModelInfo } from '../model/served-model.js';
import { argmax } from '../core/scores.js';
import type { LabelScore, SentimentResult } from './schemas.js';

/**
 * Above this share of unknown or shattered tokens the text is probably in a language the
 * vocabulary does not cover. Measured on ../shared data: English SST-2/UCI sentences on the
 * English model exceed it in about 2% of texts, English on the Chinese model in about 50%,
 * Chinese on the English model in 100%.
 */
const UNKNOWN_WARNING_RATIO = 0.4;

/** Scores sorted best first, optionally cut to the top k. */
export function rankedScores(values: number[], labels: string[], topK?: number): LabelScore[] {
  const ranked = values.map((score, i) => ({ label: labels[i] ?? String(i), score })).sort((a, b) => b.score - a.score);
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

export function toSentimentResult(text: string, prediction: Prediction, info: ModelInfo, topK?: number): SentimentResult {
  const { labels, maxTokens, language } = info;
  const best = argmax(prediction.probabilities);
  const warnings: string[] = [];
  if (prediction.truncated) warnings.push(`text exceeded ${maxTokens} tokens and was truncated`);
  const foreign = foreignScripts(text, language.scripts);
  if (foreign.length > 0) {
    const trainedOn = language.languages.length > 0 ? language.languages.join(', ') : `${scriptNames(language.scripts)} script`;
    warnings.push(`the text is written in ${scriptNames(foreign)} script, which this model (${trainedOn}) was not trained on: its score says little`);
  } else if (prediction.unknownRatio > UNKNOWN_WARNING_RATIO) {
    warnings.push(`${Math.round(prediction.unknownRatio * 100)}% of tokens are unknown to the model's vocabulary or fragments of unknown words; the text may be in a language the model does not cover`);
  }
  return {
    label: labels[best] ?? String(best),
    score: prediction.probabilities[best]!,
    scores: rankedScores(prediction.probabilities, labels, topK),
    truncated: prediction.truncated,
    warnings,
  };
}
