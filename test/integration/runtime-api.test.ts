import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, startRuntime, type Json } from '../support/runtime.js';

const LONG = Array.from({ length: 80 }, (_, i) => (i % 2 ? 'wonderful' : 'film')).join(' ');

describe('runtime HTTP API', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  const url = (path: string): string => `${runtime.url}${path}`;

  beforeAll(async () => {
    runtime = await startRuntime({
      model: { path: models.demo, maxSequenceLength: 32, revision: 'rev-7' },
      server: { maxTextsPerRequest: 16, maxTextChars: 2000, bodyLimitBytes: 8192 },
    });
  });
  afterAll(async () => runtime?.close());

  describe('POST /v1/sentiment', () => {
    it('classifies one text with ranked scores that sum to 1', async () => {
      const { status, json } = await post(url('/v1/sentiment'), { text: 'A wonderful, moving film.' });
      expect(status).toBe(200);
      expect(json).toMatchObject({ model: 'sentiment', revision: 'rev-7' });
      const [result] = json.results;
      expect(result).toMatchObject({ label: 'positive', truncated: false, warnings: [] });
      expect(result.scores.map((s: { label: string }) => s.label)).toEqual(['positive', 'negative']);
      expect(result.scores[0].score + result.scores[1].score).toBeCloseTo(1, 6);
      expect(result.score).toBe(result.scores[0].score);
    });

    it('answers a list in input order and honours topK', async () => {
      const { json } = await post(url('/v1/sentiment'), { texts: ['dreadful and boring', 'a delightful gem', 'awful acting'], topK: 1 });
      expect(json.results.map((r: { label: string }) => r.label)).toEqual(['negative', 'positive', 'negative']);
      expect(json.results.every((r: { scores: unknown[] }) => r.scores.length === 1)).toBe(true);
    });

    it('flags truncation and text in a language the vocabulary does not cover', async () => {
      const { json } = await post(url('/v1/sentiment'), { texts: [LONG, '这部电影非常好看，我很喜欢'] });
      expect(json.results[0].truncated).toBe(true);
      expect(json.results[0].warnings.join()).toContain('exceeded 32 tokens');
      expect(json.results[1].truncated).toBe(false);
      expect(json.results[1].warnings).toEqual(['the text is written in Han script, which this model (Latin script) was not trained on: its score says little']);
    });
  });

  describe('POST /predict (text-embeddings-inference)', () => {
    it('returns every label best first for one input and a list per input for a batch', async () => {
      const single = await post(url('/predict'), { inputs: 'I loved it' });
      expect(single.status).toBe(200);
      expect(single.json.map((p: { label: string }) => p.label)).toEqual(['positive', 'negative']);
      const batch = await post(url('/predict'), { inputs: [['I loved it'], ['I hated it']] });
      expect(batch.json).toHaveLength(2);
      expect(batch.json[1][0].label).toBe('negative');
    });

    it('returns logits with raw_scores', async () => {
      const probs = (await post(url('/predict'), { inputs: 'I loved it' })).json as { label: string; score: number }[];
      const raw = (await post(url('/predict'), { inputs: 'I loved it', raw_scores: true })).json as { label: string; score: number }[];
      const byLabel = Object.fromEntries(raw.map((p) => [p.label, p.score]));
      const expected = 1 / (1 + Math.exp(byLabel.negative! - byLabel.positive!));
      expect(probs.find((p) => p.label === 'positive')!.score).toBeCloseTo(expected, 5);
    });

    it('refuses over-long input unless truncate is set, and refuses sentence pairs', async () => {
      const refused = await post(url('/predict'), { inputs: LONG });
      expect(refused.status).toBe(413);
      expect(refused.json.error_type).toBe('PayloadTooLarge');
      expect((await post(url('/predict'), { inputs: LONG, truncate: true })).status).toBe(200);
      const pair = await post(url('/predict'), { inputs: ['premise', 'hypothesis'] });
      expect(pair.status).toBe(400);
      expect(pair.json.error).toContain('pairs are not supported');
    });
  });

  // The full table of bad input and its answers is tested over a fake model in runtime/src/app.test.ts.
  describe('bad input', () => {
    it('answers invalid JSON with 400 and unknown routes with 404, and keeps serving', async () => {
      const invalid = await post(url('/v1/sentiment'), '{"text": ');
      expect(invalid.status).toBe(400);
      expect(invalid.json.error_type).toBe('Validation');
      const missing = await fetch(url('/v1/nothing'));
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as Json).error_type).toBe('NotFound');
      expect((await post(url('/v1/sentiment'), { text: 'still here' })).status).toBe(200);
    });
  });

  describe('health, cache and metrics', () => {
    it('reports live and ready', async () => {
      expect((await fetch(url('/healthz'))).status).toBe(200);
      expect(await (await fetch(url('/readyz'))).json()).toEqual({ status: 'ready' });
    });

    it('serves a repeated text from the cache and counts it, and its label, as an answer', async () => {
      const first = await post(url('/v1/sentiment'), { text: 'cache me if you can' });
      const label = (first.json.results[0] as { label: string }).label;
      const series = [
        'sentiment_runtime_cache_requests_total{result="hit"}',
        `sentiment_runtime_predictions_total{label="${label}",source="model"}`,
        `sentiment_runtime_predictions_total{label="${label}",source="cache"}`,
      ];
      const values = async (): Promise<number[]> => {
        const lines = (await (await fetch(url('/metrics'))).text()).split('\n');
        return series.map((name) => {
          const line = lines.find((l) => l.startsWith(`${name} `));
          if (line === undefined) throw new Error(`/metrics has no ${name}`);
          return Number(line.slice(name.length + 1));
        });
      };
      const before = await values();
      const second = await post(url('/v1/sentiment'), { text: 'cache me if you can' });
      expect(second.json.results).toEqual(first.json.results);
      const [hits, model, cache] = before;
      expect(await values()).toEqual([hits! + 1, model, cache! + 1]);
    });

    it('exports the metrics the autoscaler and dashboards read', async () => {
      const text = await (await fetch(url('/metrics'))).text();
      for (const name of [
        'sentiment_runtime_requests_total{route="/v1/sentiment",code="200"}',
        'sentiment_runtime_request_duration_seconds_bucket',
        'sentiment_runtime_inflight_requests',
        'sentiment_runtime_queue_depth',
        'sentiment_runtime_queue_capacity 2048',
        'sentiment_runtime_batch_size_bucket',
        'sentiment_runtime_batch_padded_tokens_bucket',
        'sentiment_runtime_inference_duration_seconds_bucket',
        'sentiment_runtime_tokenization_duration_seconds_bucket',
        'sentiment_runtime_truncated_inputs_total',
        'sentiment_runtime_unknown_token_ratio_bucket',
        'sentiment_runtime_predictions_total{label="negative",source="model"}',
        'sentiment_runtime_predictions_total{label="negative",source="cache"}',
        'sentiment_runtime_model_info{model="sentiment",revision="rev-7",quantization="int8",execution_provider="cpu",requested_provider="cpu"} 1',
      ]) {
        expect(text).toContain(name);
      }
    });

    it('serves on the sessions it derived and reports the batch size and padding allowance it measured, in /v1/model and /metrics alike', async () => {
      const { serving } = (await (await fetch(url('/v1/model'))).json()) as {
        serving: { sessions: number; intraOpThreads: number; maxBatchSize: number; preferredBatchSize: number; paddingAllowanceTokens: number | null };
      };
      expect(serving.sessions).toBeGreaterThanOrEqual(1);
      expect(serving.intraOpThreads).toBeGreaterThanOrEqual(1);
      expect(serving.preferredBatchSize).toBeGreaterThanOrEqual(1);
      expect(serving.preferredBatchSize).toBeLessThanOrEqual(serving.maxBatchSize);
      const text = await (await fetch(url('/metrics'))).text();
      expect(Number(/^sentiment_runtime_preferred_batch_size (\d+)$/m.exec(text)?.[1])).toBe(serving.preferredBatchSize);
      const allowance = /^sentiment_runtime_batch_padding_allowance_tokens (\S+)$/m.exec(text)?.[1];
      if (serving.paddingAllowanceTokens === null) expect(allowance).toBe('+Inf');
      else {
        expect(serving.paddingAllowanceTokens).toBeGreaterThanOrEqual(0);
        expect(Number(allowance)).toBeCloseTo(serving.paddingAllowanceTokens, 0);
      }
    });

    it('reports when the process started and how long loading and warming up the model took', async () => {
      const text = await (await fetch(url('/metrics'))).text();
      const read = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
      const startedAt = read(/^sentiment_runtime_start_time_seconds (\S+)$/m) * 1000;
      const modelLoad = read(/^sentiment_runtime_startup_seconds\{phase="modelLoad"\} (\S+)$/m);
      const warmUp = read(/^sentiment_runtime_startup_seconds\{phase="warmUp"\} (\S+)$/m);
      expect(modelLoad).toBeGreaterThan(0);
      expect(warmUp).toBeGreaterThan(0);
      // Started before this test, and ready (loaded and warmed up) before now.
      expect(startedAt).toBeLessThan(Date.now());
      expect(startedAt + (modelLoad + warmUp) * 1000).toBeLessThanOrEqual(Date.now());
      expect(Date.now() - startedAt).toBeLessThan(10 * 60_000);
    });
  });
});
