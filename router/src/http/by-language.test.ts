import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scriptsOfLanguage } from '#contract/language.js';
import { Canaries } from '../canary/canary.js';
import { Catalog, type RoutedModel } from '../discovery/catalog.js';
import { Holds } from '../hold.js';
import { RouterMetrics } from '../metrics.js';
import { Upstreams } from '../upstreams.js';
import { buildApp } from './app.js';

/**
 * A pod answering /v1/sentiment and /predict in the runtime's shapes, each result naming the pod
 * and its text (a text "bad" gets the runtime's 400), and V2 with the path and texts it got. The
 * models themselves run in test/integration/router.test.ts.
 */
async function sentimentPod(name: string): Promise<{ url: string; server: Server; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { text?: string; texts?: string[]; inputs?: string | string[][] };
      bodies.push(body);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      if (req.url!.startsWith('/v2/')) {
        res.end(JSON.stringify({ url: req.url, servedBy: name }));
        return;
      }
      const batch = Array.isArray(body.inputs);
      const texts = body.texts ?? (body.inputs === undefined ? [body.text!] : batch ? (body.inputs as string[][]).map(([text]) => text!) : [body.inputs as string]);
      if (texts.includes('bad')) {
        res.writeHead(400).end(JSON.stringify({ error: `${name} refused "bad"`, error_type: 'Validation' }));
        return;
      }
      const results = texts.map((text) => ({ label: `${name}:${text}` }));
      if (req.url === '/predict') res.end(JSON.stringify(batch ? results.map((result) => [result]) : [results[0]]));
      else res.end(JSON.stringify({ model: name, revision: `rev-${name}`, results }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies };
}

describe('router: language routing of /v1/sentiment', () => {
  let en: Awaited<ReturnType<typeof sentimentPod>>;
  let zh: Awaited<ReturnType<typeof sentimentPod>>;
  const catalog = new Catalog();
  const upstreams = new Upstreams({ connectionsPerPod: 4, timeoutMs: 5000 });
  const metrics = new RouterMetrics();
  const app = buildApp({
    catalog, canaries: new Canaries(64), upstreams, holds: new Holds({ timeoutMs: 300, maxRequests: 2 }), metrics, wake: () => undefined, bodyLimitBytes: 4096, logLevel: 'silent', ready: () => true, synced: () => true,
  }, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
  const put = (model: RoutedModel) => {
    catalog.set(model);
    upstreams.update(`${model.namespace}/${model.name}`, model.ready);
  };
  const ask = (payload: object, headers: Record<string, string> = {}, url = '/v1/sentiment') => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });

  beforeAll(async () => {
    [en, zh] = await Promise.all([sentimentPod('reviews'), sentimentPod('reviews-zh')]);
    put({ namespace: 'shop', name: 'reviews', uid: '1', ready: [en.url], replicas: 1, wakeable: false, languages: [{ language: 'zh', scripts: scriptsOfLanguage('zh'), model: 'reviews-zh' }] });
    put({ namespace: 'shop', name: 'reviews-zh', uid: '2', ready: [zh.url], replicas: 1, wakeable: false, languages: [] });
    put({ namespace: 'shop', name: 'broken', uid: '3', ready: [en.url], replicas: 1, wakeable: false, languages: [{ language: 'zh', scripts: scriptsOfLanguage('zh'), model: 'gone' }] });
    await app.ready();
  });
  afterEach(() => {
    en.bodies.length = 0;
    zh.bodies.length = 0;
  });
  afterAll(async () => {
    await app.close();
    await upstreams.close();
    en.server.close();
    zh.server.close();
  });

  it('splits a mixed request by script and puts the answers back in the order of the texts', async () => {
    const res = await ask({ model: 'reviews', texts: ['great', '很好', 'awful', '太差了', '!!!'], topK: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.json()).toEqual({
      model: 'reviews,reviews-zh',
      revision: 'rev-reviews,rev-reviews-zh',
      results: [{ label: 'reviews:great' }, { label: 'reviews-zh:很好' }, { label: 'reviews:awful' }, { label: 'reviews-zh:太差了' }, { label: 'reviews:!!!' }],
    });
    // Every other field goes to every part.
    expect(en.bodies).toEqual([{ texts: ['great', 'awful', '!!!'], topK: 1 }]);
    expect(zh.bodies).toEqual([{ texts: ['很好', '太差了'], topK: 1 }]);
  });

  it('forwards a request in one language whole to its model, the header naming the model too', async () => {
    const one = await ask({ text: '这家酒店很好' }, { 'sentiment-model': 'reviews' });
    expect(one.json()).toEqual({ model: 'reviews-zh', revision: 'rev-reviews-zh', results: [{ label: 'reviews-zh:这家酒店很好' }] });
    expect(zh.bodies).toEqual([{ text: '这家酒店很好' }]);
    const english = await ask({ model: 'reviews', texts: ['fine', 'good'] });
    expect(english.json().model).toBe('reviews');
    expect(en.bodies).toEqual([{ texts: ['fine', 'good'] }]);
  });

  it('sends an empty or malformed request to the named model unchanged, for the runtime\'s own answer', async () => {
    await ask({ model: 'reviews', texts: [] });
    await ask({ model: 'reviews', text: '很好', texts: ['x'] });
    expect(en.bodies).toEqual([{ texts: [] }, { text: '很好', texts: ['x'] }]);
    expect(zh.bodies).toEqual([]);
  });

  it('splits a /predict batch the same way, answering one ranking per text in order', async () => {
    const res = await ask({ inputs: [['很好'], ['fine'], ['太差了']], raw_scores: true }, { 'sentiment-model': 'reviews' }, '/predict');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([[{ label: 'reviews-zh:很好' }], [{ label: 'reviews:fine' }], [{ label: 'reviews-zh:太差了' }]]);
    expect(zh.bodies).toEqual([{ inputs: [['很好'], ['太差了']], raw_scores: true }]);
    expect(en.bodies).toEqual([{ inputs: [['fine']], raw_scores: true }]);
    const one = await ask({ model: 'reviews', inputs: '很好' }, {}, '/predict');
    expect(one.json()).toEqual([{ label: 'reviews-zh:很好' }]);
  });

  it('sends a V2 inference request whole to the model most of its texts go to, under that model\'s name', async () => {
    const v2 = (texts: string[], headers: Record<string, string> = {}) => app.inject({
      method: 'POST', url: '/v2/models/reviews/versions/1/infer', headers: { 'content-type': 'application/json', ...headers },
      payload: { inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] },
    });
    expect((await v2(['很好', 'fine', '太差了'])).json()).toEqual({ url: '/v2/models/reviews-zh/versions/1/infer', servedBy: 'reviews-zh' });
    expect((await v2(['fine', '很好'])).json()).toEqual({ url: '/v2/models/reviews/versions/1/infer', servedBy: 'reviews' });
    // The binary extension is not read for texts: the named model answers.
    expect((await v2(['很好'], { 'inference-header-content-length': '80' })).json()).toMatchObject({ servedBy: 'reviews' });
  });

  it('answers with the failing part\'s error when one part fails', async () => {
    const res = await ask({ model: 'reviews', texts: ['很好', 'bad'] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'reviews refused "bad"', error_type: 'Validation' });
  });

  it('answers 404 in the runtime\'s error body when a language route names an unknown model', async () => {
    const res = await ask({ model: 'broken', texts: ['fine', '很好'] });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'unknown model "gone" (named in routing.languages of "broken")', error_type: 'NotFound' });
    expect(en.bodies).toEqual([]);
  });
});
