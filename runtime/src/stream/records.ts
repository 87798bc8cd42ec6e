import type { Message, MessageToProduce } from '@platformatic/kafka';
import type { Prediction } from '../core/infer.js';
import { toSentimentResult } from '../http/present.js';
import type { ModelInfo } from '../model/served-model.js';
import type { PoisonReason } from './decode.js';

export type InputRecord = Message<Buffer, Buffer, Buffer, Buffer>;
export type OutputRecord = MessageToProduce<Buffer, Buffer, string, string>;

/** Header names on produced records; consumers can route on the label without parsing the value. */
export const HEADERS = {
  model: 'sentiment-model',
  revision: 'sentiment-revision',
  label: 'sentiment-label',
  score: 'sentiment-score',
  /** topic/partition/offset of the input: lets a reader spot a duplicate after a crash. */
  source: 'sentiment-source',
  reason: 'sentiment-dead-letter-reason',
  detail: 'sentiment-dead-letter-detail',
} as const;

export interface ServedIdentity {
  model: string;
  revision: string;
  info: ModelInfo;
}

export const sourceOf = (record: InputRecord): string => `${record.topic}/${record.partition}/${record.offset}`;

/** The result with the input's key (so its partition follows the key), its value as one /v1/sentiment result. */
export function resultRecord(topic: string, input: InputRecord, text: string, prediction: Prediction, served: ServedIdentity): OutputRecord {
  const result = toSentimentResult(text, prediction, served.info);
  return {
    topic,
    ...(input.key ? { key: input.key } : {}),
    value: Buffer.from(JSON.stringify(result)),
    headers: {
      [HEADERS.model]: served.model,
      [HEADERS.revision]: served.revision,
      [HEADERS.label]: result.label,
      [HEADERS.score]: String(result.score),
      [HEADERS.source]: sourceOf(input),
    },
  };
}

/** The input unchanged (key and value), with why it was refused. */
export function deadLetterRecord(topic: string, input: InputRecord, reason: PoisonReason, detail: string): OutputRecord {
  return {
    topic,
    ...(input.key ? { key: input.key } : {}),
    ...(input.value ? { value: input.value } : {}),
    headers: { [HEADERS.reason]: reason, [HEADERS.detail]: detail, [HEADERS.source]: sourceOf(input) },
  };
}
