import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/kube.js';
import { models, post, startRuntime } from '../support/runtime.js';

async function metric(base: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

const QUEUE_DEPTH = /sentiment_runtime_queue_depth (\d+)/;

/** A positive fence: returns once the runtime's own metric shows the state the test needs next. */
async function untilMetric(base: string, pattern: RegExp, value: number, what: string): Promise<void> {
  await waitFor(async () => (await metric(base, pattern)) === value, 10_000, async () => `${what}: metric is ${await metric(base, pattern)}, not ${value}`, 10);
}

describe('runtime under load and failure', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>> | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  it('answers 429 with Retry-After beyond maxQueue, and serves the queued work', async () => {
    // A long batch delay keeps the first request's texts queued while the second arrives.
    runtime = await startRuntime({ model: { path: models.demo }, batching: { maxQueue: 4, maxBatchDelayMs: 500 }, cache: { enabled: false } });
    const first = post(`${runtime.url}/v1/sentiment`, { texts: ['one', 'two', 'three'] });
    await untilMetric(runtime.url, QUEUE_DEPTH, 3, 'first request queued');
    const refused = await post(`${runtime.url}/v1/sentiment`, { texts: ['four', 'five'] });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json).toMatchObject({ error_type: 'Overloaded' });
    expect((await first).status).toBe(200);
    expect((await post(`${runtime.url}/v1/sentiment`, { texts: ['four', 'five'] })).status).toBe(200);
  });

  it('drops queued texts past the request deadline with 504', async () => {
    runtime = await startRuntime({ model: { path: models.demo }, batching: { maxBatchDelayMs: 800 }, server: { requestTimeoutMs: 200 }, cache: { enabled: false } });
    const batchesBefore = await metric(runtime.url, /sentiment_runtime_batch_size_count (\d+)/);
    const started = performance.now();
    const late = await post(`${runtime.url}/v1/sentiment`, { text: 'too slow' });
    expect(late.status).toBe(504);
    expect(late.json.error_type).toBe('DeadlineExceeded');
    expect(performance.now() - started).toBeLessThan(800);
    await untilMetric(runtime.url, /sentiment_runtime_dropped_texts_total\{reason="DeadlineExceeded"\} (\d+)/, 1, 'late text dropped');
    expect(await metric(runtime.url, /sentiment_runtime_batch_size_count (\d+)/)).toBe(batchesBefore);
  });

  it('drops the queued texts of a client that disconnected, before inference', async () => {
    runtime = await startRuntime({ model: { path: models.demo }, batching: { maxBatchDelayMs: 600 }, cache: { enabled: false } });
    const batchesBefore = await metric(runtime.url, /sentiment_runtime_batch_size_count (\d+)/);
    const abort = new AbortController();
    const gone = fetch(`${runtime.url}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: ['bye', 'now'] }), signal: abort.signal });
    await untilMetric(runtime.url, QUEUE_DEPTH, 2, 'texts queued');
    abort.abort();
    await expect(gone).rejects.toThrow();
    await untilMetric(runtime.url, /sentiment_runtime_dropped_texts_total\{reason="ClientGone"\} (\d+)/, 2, 'texts of the gone client dropped');
    expect(await metric(runtime.url, /sentiment_runtime_batch_size_count (\d+)/)).toBe(batchesBefore);
  });

  it('keeps answering health checks while a large request is tokenized and run', async () => {
    runtime = await startRuntime({ model: { path: models.demo }, server: { maxTextsPerRequest: 512, bodyLimitBytes: 4_194_304 }, cache: { enabled: false } });
    const paragraph = 'The plot meanders, yet the performances are luminous and the score is unforgettable. '.repeat(40);
    const big = post(`${runtime.url}/v1/sentiment`, { texts: Array.from({ length: 512 }, (_, i) => `${i} ${paragraph}`) });
    let done = false;
    void big.finally(() => (done = true));
    const probes: number[] = [];
    while (!done) {
      const started = performance.now();
      expect((await fetch(`${runtime.url}/healthz`)).status).toBe(200);
      probes.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await big).status).toBe(200);
    expect(probes.length).toBeGreaterThan(2);
    // Kubernetes' default probe timeout is 1 s.
    expect(Math.max(...probes)).toBeLessThan(1000);
  });

  it('isolates a bad request from a batch it would have shared', async () => {
    runtime = await startRuntime({ model: { path: models.demo }, batching: { maxBatchDelayMs: 100 }, cache: { enabled: false } });
    const [good, bad, alsoGood] = await Promise.all([
      post(`${runtime.url}/v1/sentiment`, { text: 'a lovely film' }),
      post(`${runtime.url}/v1/sentiment`, { texts: ['fine', 42] }),
      post(`${runtime.url}/v1/sentiment`, { text: 'a dreadful film' }),
    ]);
    expect([good.status, bad.status, alsoGood.status]).toEqual([200, 400, 200]);
    expect(good.json.results[0].label).toBe('positive');
    expect(alsoGood.json.results[0].label).toBe('negative');
  });
});
