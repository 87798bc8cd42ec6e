import type { Batcher } from './batcher.js';
import type { ResultCache } from './cache.js';
import { RuntimeError } from './errors.js';
import type { QueueEntry } from './queue.js';
import { softmax } from './scores.js';
import type { EncodedText, TextEncoder } from './tokenizer.js';

export interface Prediction {
  logits: number[];
  probabilities: number[];
  truncated: boolean;
  unknownRatio: number;
}

/** A prediction's numbers as the result cache counts them: 8 bytes each. */
export const predictionBytes = (prediction: Prediction): number => 8 * (prediction.logits.length + prediction.probabilities.length);

export interface ClassifyOptions {
  /** Aborted when the client disconnects: its queued texts are dropped before inference. */
  signal?: AbortSignal | undefined;
  /** Absolute deadline on the performance.now() clock. */
  deadline: number;
  /** Yield to interactive texts in the queue (stream mode's consumer). */
  background?: boolean | undefined;
}

/** Where an answer came from: the model now, or the result cache. */
export type AnswerSource = 'model' | 'cache';

export interface InferObserver {
  tokenized(seconds: number, encoded: EncodedText[]): void;
  /** Every answered text, cached or not: label counts must not depend on whether the cache is on. */
  answered(predictions: Prediction[], source: AnswerSource): void;
}

/**
 * The core service behind every route: cache lookup, tokenization, queueing, softmax.
 * One Prediction per input text, in input order, however the texts were split across batches.
 */
export class Classifier {
  constructor(
    private readonly encoder: TextEncoder,
    private readonly batcher: Batcher,
    private readonly cache: ResultCache<Prediction> | undefined,
    private readonly observer: InferObserver,
  ) {}

  get maxTokens(): number {
    return this.encoder.maxLength;
  }

  async classify(texts: string[], options: ClassifyOptions): Promise<Prediction[]> {
    const results: (Prediction | undefined)[] = texts.map((text) => this.cache?.get(text));
    const hits = results.filter((result) => result !== undefined);
    const missing = texts.flatMap((text, index) => (results[index] ? [] : [{ text, index }]));
    if (missing.length > 0) {
      const fresh = await this.predict(missing.map((item) => item.text), options);
      this.observer.answered(fresh, 'model');
      fresh.forEach((prediction, i) => {
        const { text, index } = missing[i]!;
        results[index] = prediction;
        this.cache?.set(text, prediction);
      });
    }
    // Counted only once the request is answered: a failed request serves its cache hits to no one.
    this.observer.answered(hits, 'cache');
    return results as Prediction[];
  }

  private async predict(texts: string[], options: ClassifyOptions): Promise<Prediction[]> {
    // Refuse before spending tokenization on a request the queue cannot take.
    this.batcher.ensureRoom(texts.length);
    const started = performance.now();
    const encoded = await this.encoder.encode(texts);
    this.observer.tokenized((performance.now() - started) / 1000, encoded);
    if (options.signal?.aborted) throw new RuntimeError('ClientGone', 'client disconnected before inference');

    const logits = await this.enqueue(encoded, options);
    return logits.map((row, i): Prediction => {
      const values = Array.from(row);
      return { logits: values, probabilities: softmax(values), truncated: encoded[i]!.truncated, unknownRatio: encoded[i]!.unknownRatio };
    });
  }

  private enqueue(encoded: EncodedText[], options: ClassifyOptions): Promise<Float32Array[]> {
    const enqueuedAt = performance.now();
    const entries: QueueEntry[] = [];
    const rows = encoded.map(
      (item) =>
        new Promise<Float32Array>((resolve, reject) => {
          entries.push({ encoded: item, enqueuedAt, deadline: options.deadline, signal: options.signal, background: options.background, resolve, reject });
        }),
    );
    this.batcher.submit(entries);
    return withDeadline(Promise.all(rows), options.deadline);
  }
}

/** A batch already running still finishes; the caller just stops waiting for it. */
function withDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new RuntimeError('DeadlineExceeded', 'request deadline exceeded')),
      Math.max(0, deadline - performance.now()),
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}
