import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFakeApp, type FakeModel } from '../../test/support/fake-model.js';
import { RuntimeError } from './core/errors.js';
import type { ServingContext } from './http/context.js';
import { ERROR_KINDS } from './http/errors.js';

/** The HTTP contract (status codes, body shapes, limits, the error table) over a fake model: no socket, no weights. */
describe('HTTP contract (app.inject over a fake model)', () => {
  let app: FastifyInstance;
  let model: FakeModel;
  let context: ServingContext;
  const start = (...args: Parameters<typeof buildFakeApp>): void => {
    ({ app, model, context } = buildFakeApp(...args));
  };
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as string });
  afterEach(async () => app?.close());

  describe('POST /v1/sentiment', () => {
    it('answers each text in order with its label, ranked scores and warnings', async () => {
      start({ model: { name: 'sst2', revision: 'r9' } });
      const response = await post('/v1/sentiment', { texts: ['good film', 'one two three four five six seven eight nine', '这部电影'], topK: 1 });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ model: 'sst2', revision: 'r9' });
      expect(body.results.map((r: { label: string }) => r.label)).toEqual(['positive', 'negative', 'negative']);
      expect(body.results[0].scores).toEqual([{ label: 'positive', score: body.results[0].score }]);
      expect(body.results[1]).toMatchObject({ truncated: true, warnings: ['text exceeded 8 tokens and was truncated'] });
      expect(body.results[2].warnings).toEqual(['the text is written in Han script, which this model (Latin script) was not trained on: its score says little']);
      expect(model.calls.map((call) => call.texts)).toEqual([['good film', 'one two three four five six seven eight nine', '这部电影']]);
    });

    it('says when most tokens are unknown though the script is the model\'s', async () => {
      start();
      const body = (await post('/v1/sentiment', { text: 'ééé ààà' })).json();
      expect(body.results[0].warnings).toEqual(["100% of tokens are unknown to the model's vocabulary or fragments of unknown words; the text may be in a language the model does not cover"]);
    });

    it('gives the model the request deadline (server.requestTimeoutMs from arrival) and an abort signal', async () => {
      start({ server: { requestTimeoutMs: 1234 } });
      const before = performance.now();
      await post('/v1/sentiment', { text: 'good' });
      const [call] = model.calls;
      expect(call!.options.deadline).toBeGreaterThanOrEqual(before + 1234);
      expect(call!.options.deadline).toBeLessThanOrEqual(call!.at + 1234);
      expect(call!.options.signal?.aborted).toBe(false);
    });

    it.each([
      ['both text and texts', { text: 'a', texts: ['b'] }, 400, 'exactly one'],
      ['neither text nor texts', { topK: 1 }, 400, 'exactly one'],
      ['a non-string text', { text: 5 }, 400, 'must be a string'],
      ['an empty text', { texts: ['fine', '  '] }, 400, 'text 1 is empty'],
      ['an empty list', { texts: [] }, 400, 'no texts'],
      ['an unknown field', { text: 'a', temperature: 1 }, 400, 'additional properties'],
      ['a bad topK', { text: 'a', topK: 0 }, 400, 'topK'],
      ['too many texts', { texts: Array.from({ length: 17 }, () => 'x') }, 413, 'too many texts'],
      ['a too long text', { text: 'y'.repeat(2001) }, 413, '2001 characters'],
      ['a body over the limit', { texts: Array.from({ length: 10 }, () => 'z'.repeat(1000)) }, 413, 'too large'],
      ['invalid JSON', '{"text": ', 400, 'not valid JSON'],
    ])('answers %s with a clear JSON error, before the model sees it', async (_name, body, status, message) => {
      start({ server: { maxTextsPerRequest: 16, maxTextChars: 2000, bodyLimitBytes: 8192 } });
      const response = typeof body === 'string' ? await app.inject({ method: 'POST', url: '/v1/sentiment', payload: body, headers: { 'content-type': 'application/json' } }) : await post('/v1/sentiment', body);
      expect(response.statusCode).toBe(status);
      expect(response.json().error).toContain(message);
      expect(typeof response.json().error_type).toBe('string');
      expect(model.calls).toEqual([]);
    });
  });

  describe('POST /predict (text-embeddings-inference)', () => {
    it('returns every label best first for one input, a list per input for a batch, and logits with raw_scores', async () => {
      start();
      const single = await post('/predict', { inputs: 'good' });
      expect(single.json()).toEqual([
        { label: 'positive', score: expect.closeTo(0.9526, 4) },
        { label: 'negative', score: expect.closeTo(0.0474, 4) },
      ]);
      const batch = await post('/predict', { inputs: [['good'], ['bad']] });
      expect(batch.json().map((ranking: { label: string }[]) => ranking[0]!.label)).toEqual(['positive', 'negative']);
      expect((await post('/predict', { inputs: 'good', raw_scores: true })).json()).toEqual([{ label: 'positive', score: 2 }, { label: 'negative', score: -1 }]);
    });

    it('refuses a truncated input unless truncate is set, and sentence pairs', async () => {
      start();
      const long = 'one two three four five six seven eight nine';
      const refused = await post('/predict', { inputs: [['good'], [long]] });
      expect(refused.statusCode).toBe(413);
      expect(refused.json()).toEqual({ error: 'Input validation error: `inputs`[1] must have at most 8 tokens; set "truncate": true to cut it', error_type: 'PayloadTooLarge' });
      expect((await post('/predict', { inputs: long, truncate: true })).statusCode).toBe(200);
      for (const inputs of [['premise', 'hypothesis'], [['premise', 'hypothesis']]]) {
        expect((await post('/predict', { inputs })).json()).toMatchObject({ error_type: 'Validation', error: expect.stringContaining('pairs are not supported') });
      }
      expect((await post('/predict', { inputs: 7 })).statusCode).toBe(400);
      for (const inputs of [[null], [5, 'a'], [{}]]) {
        expect((await post('/predict', { inputs })).json()).toEqual({ error_type: 'Validation', error: '"inputs"[0] must be [string]' });
      }
    });
  });

  describe('the error table', () => {
    // errors.test.ts checks the status of each kind; this checks each reaches the client intact through a route's response schema.
    it.each(ERROR_KINDS)('answers a %s failure of the model with its status and the error body', async (kind) => {
      start();
      model.answer = async () => {
        throw new RuntimeError(kind, `failed: ${kind}`, kind === 'Overloaded' ? 1 : undefined);
      };
      const response = await post('/v1/sentiment', { text: 'good' });
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.json()).toEqual({ error: `failed: ${kind}`, error_type: kind });
      expect(response.headers['retry-after']).toBe(kind === 'Overloaded' ? '1' : undefined);
    });

    it('answers an unexpected failure with a generic 500 naming the request id, never its message, and keeps serving', async () => {
      start();
      model.answer = async () => {
        throw new TypeError("Cannot read properties of null (reading 'secret')");
      };
      const failed = await post('/v1/sentiment', { text: 'good' });
      expect([failed.statusCode, failed.json()]).toEqual([500, { error: expect.stringMatching(/^internal error \(request id \S+\)$/), error_type: 'Backend' }]);
      // The id a router (or the client) sent, which its own logs carry too.
      const traced = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'x-request-id': 'req-from-router' }, payload: { text: 'good' } });
      expect(traced.json()).toEqual({ error: 'internal error (request id req-from-router)', error_type: 'Backend' });
      model.answer = async (texts) => texts.map(() => ({ logits: [0, 1], probabilities: [0.25, 0.75], truncated: false, unknownRatio: 0 }));
      expect((await post('/v1/sentiment', { text: 'good' })).statusCode).toBe(200);
    });

    it('answers unknown routes with 404 NotFound', async () => {
      start();
      const response = await app.inject({ method: 'GET', url: '/v1/nothing' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: 'no route GET /v1/nothing', error_type: 'NotFound' });
    });
  });

  describe('probes and the model description through the lifecycle', () => {
    it('while loading: live, not ready, and 503 NotReady with Retry-After for work', async () => {
      start({}, { loading: true });
      expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
      const ready = await app.inject('/readyz');
      expect([ready.statusCode, ready.json()]).toEqual([503, { status: 'loading' }]);
      const work = await post('/v1/sentiment', { text: 'good' });
      expect([work.statusCode, work.headers['retry-after'], work.json().error_type]).toEqual([503, '1', 'NotReady']);
      expect((await app.inject('/v1/model')).statusCode).toBe(503);
      expect((await app.inject('/v2/health/ready')).statusCode).toBe(400);
    });

    it('ready: describes the model, and counts requests in /metrics', async () => {
      start({ model: { name: 'sst2', revision: 'r9' } });
      expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready' });
      expect((await app.inject('/v1/model')).json()).toEqual({
        name: 'sst2',
        revision: 'r9',
        quantization: 'int8',
        executionProvider: 'cpu',
        labels: ['negative', 'positive'],
        maxTokens: 8,
        languages: [],
        scripts: ['Latn'],
        serving: { sessions: 2, intraOpThreads: 1, maxBatchSize: 32, preferredBatchSize: 8, paddingAllowanceTokens: 4.5 },
      });
      const metrics = await app.inject('/metrics');
      expect(metrics.headers['content-type']).toContain('text/plain');
      expect(metrics.body).toContain('sentiment_runtime_requests_total{route="/v1/model",code="200"} 1');
    });

    it('draining: not ready, still serving, and asking clients to reconnect elsewhere', async () => {
      start();
      context.lifecycle.markDraining();
      expect((await app.inject('/readyz')).json()).toEqual({ status: 'draining' });
      const work = await post('/v1/sentiment', { text: 'good' });
      expect([work.statusCode, work.headers.connection]).toEqual([200, 'close']);
    });

    it('a failed model: liveness and readiness report it', async () => {
      start();
      model.broken = new Error('worker thread died');
      const live = await app.inject('/healthz');
      expect([live.statusCode, live.json()]).toEqual([503, { status: 'failed', error: 'worker thread died' }]);
      expect((await app.inject('/readyz')).json()).toEqual({ status: 'failed' });
    });
  });

  describe('KServe V2', () => {
    const infer = (body: unknown, url = '/v2/models/sst2/infer') => post(url, body);

    it('answers metadata, readiness and JSON infer for the served model and version only', async () => {
      start({ model: { name: 'sst2', revision: '3' } });
      expect((await app.inject('/v2/models/sst2/versions/3')).json().outputs[2]).toEqual({ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] });
      expect((await app.inject('/v2/models/sst2/ready')).json()).toEqual({ name: 'sst2', ready: true });
      expect((await app.inject('/v2/models/other')).json()).toEqual({ error: 'unknown model "other"', error_type: 'NotFound' });
      expect((await app.inject('/v2/models/sst2/versions/9/ready')).statusCode).toBe(404);
      const response = await infer({ id: 'x1', inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['good', 'bad'] }], outputs: [{ name: 'label' }, { name: 'probability' }] });
      expect(response.json()).toEqual({
        model_name: 'sst2',
        model_version: '3',
        id: 'x1',
        outputs: [
          { name: 'label', datatype: 'BYTES', shape: [2], data: ['positive', 'negative'] },
          { name: 'probability', datatype: 'FP32', shape: [2], data: [expect.closeTo(0.9526, 4), expect.closeTo(0.8808, 4)] },
        ],
      });
    });

    it.each([
      ['a non-BYTES input', { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: [1] }] }, '/inputs/0/datatype must be "BYTES"'],
      ['a shape that does not match the data', { inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: ['a'] }] }, 'shape [3]'],
      ['two inputs', { inputs: [{ name: 'a', shape: [1], datatype: 'BYTES', data: ['x'] }, { name: 'b', shape: [1], datatype: 'BYTES', data: ['y'] }] }, '/inputs must not have more than 1 items'],
      ['an unknown output', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }], outputs: [{ name: 'embedding' }] }, 'unknown output'],
      ['no inputs', { id: 'x' }, '/inputs is required'],
    ])('rejects %s with a V2 error body', async (_name, body, message) => {
      start({ model: { name: 'sst2' } });
      const response = await infer(body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toContain(message);
    });

    const text = { name: 'text', shape: [1], datatype: 'BYTES', data: ['good'] };
    const binary = (header: unknown, tail: Buffer = Buffer.alloc(0)) => {
      const json = Buffer.from(JSON.stringify(header));
      return app.inject({ method: 'POST', url: '/v2/models/sst2/infer', payload: Buffer.concat([json, tail]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) } });
    };
    it.each([
      ['a null input', { inputs: [null] }, '/inputs/0'],
      ['a null output', { inputs: [text], outputs: [null] }, '/outputs/0'],
      ['outputs that is not a list', { inputs: [text], outputs: 'label' }, '/outputs'],
      ['an output without a name', { inputs: [text], outputs: [{}] }, '/outputs/0/name'],
      ['a null in the data', { inputs: [{ ...text, data: [null] }] }, 'element 0 must be a string'],
      ['a null among nested rows', { inputs: [{ ...text, shape: [2, 1], data: [['good'], [null]] }] }, 'element 1 must be a string'],
      ['a null shape', { inputs: [{ ...text, shape: null }] }, '/inputs/0/shape'],
      ['null parameters', { inputs: [{ ...text, parameters: null }] }, '/inputs/0/parameters'],
      ['a numeric id', { id: 5, inputs: [text] }, '/id'],
      ['a body that is a list', [text], 'must be object'],
      ['a body that is null', null, 'must be object'],
    ])('refuses %s with 400 naming the field, never a 500 or an internal message', async (_name, body, message) => {
      start({ model: { name: 'sst2' } });
      for (const response of [await infer(JSON.stringify(body)), await binary(body)]) {
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({ error: expect.stringContaining(message), error_type: 'Validation' });
        expect(response.json().error).not.toMatch(/Cannot read|is not a function|undefined/);
      }
      expect(model.calls).toEqual([]);
    });

    it.each([
      ['a non-numeric binary_data_size', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 'x' } }] }, 'binary_data_size'],
      ['a binary_data_output that is not a boolean', { parameters: { binary_data_output: 'yes' }, inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 8 } }] }, 'binary_data_output'],
      ['an output binary_data that is not a boolean', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 8 } }], outputs: [{ name: 'label', parameters: { binary_data: 1 } }] }, 'binary_data'],
    ])('refuses %s in a binary request with 400', async (_name, header, message) => {
      start({ model: { name: 'sst2' } });
      const tail = Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from('good')]);
      const response = await binary(header, tail);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toContain(message);
      expect(model.calls).toEqual([]);
    });

    it('refuses JSON nested deeper than the cap on every route with 400, before parsing it', async () => {
      start({ model: { name: 'sst2' }, server: { bodyLimitBytes: 1_048_576 } });
      const deep = `{"inputs": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
      for (const url of ['/v2/models/sst2/infer', '/v1/sentiment', '/predict']) {
        const response = await app.inject({ method: 'POST', url, payload: deep, headers: { 'content-type': 'application/json' } });
        expect([url, response.statusCode, response.json().error]).toEqual([url, 400, expect.stringContaining('nested deeper than')]);
      }
      expect(model.calls).toEqual([]);
    });
  });
});
