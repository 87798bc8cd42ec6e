import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Canaries } from '../canary/canary.js';
import { Catalog, type RoutedModel } from '../discovery/catalog.js';
import { Holds } from '../hold.js';
import { RouterMetrics } from '../metrics.js';
import { Upstreams } from '../upstreams.js';
import { buildApp } from './app.js';

/** A pod as the router sees it: an HTTP server that answers with what it received. */
interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: string }
async function echoServer(name: string): Promise<{ url: string; server: Server; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      received.push(entry);
      res.writeHead(req.url === '/v1/sentiment' && entry.body.includes('"bad"') ? 400 : 200, { 'content-type': 'application/json', 'x-served-by': name });
      res.end(JSON.stringify({ servedBy: name, url: entry.url, body: entry.body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, received };
}

describe('router HTTP', () => {
  let pods: Awaited<ReturnType<typeof echoServer>>[];
  const catalog = new Catalog();
  const upstreams = new Upstreams({ connectionsPerPod: 4, timeoutMs: 5000 });
  const holds = new Holds({ timeoutMs: 300, maxRequests: 2 });
  const metrics = new RouterMetrics();
  const woken: string[] = [];
  let synced = true;
  const app = buildApp({
    catalog, canaries: new Canaries(64), upstreams, holds, metrics, wake: (m) => woken.push(m.name), bodyLimitBytes: 4096, logLevel: 'silent', ready: () => synced, synced: () => synced,
  }, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
  const put = (model: RoutedModel) => {
    catalog.set(model);
    upstreams.update(`${model.namespace}/${model.name}`, model.ready);
  };

  beforeAll(async () => {
    pods = await Promise.all([echoServer('a'), echoServer('b'), echoServer('zh')]);
    put({ namespace: 'shop', name: 'reviews', uid: '1', ready: [pods[0]!.url, pods[1]!.url], replicas: 2, wakeable: false, languages: [] });
    put({ namespace: 'blog', name: 'posts', uid: '2', ready: [pods[2]!.url], replicas: 1, wakeable: false, languages: [] });
    put({ namespace: 'blog', name: 'sleepy', uid: '3', ready: [], replicas: 0, wakeable: true, languages: [] });
    await app.ready();
  });
  afterEach(() => {
    for (const pod of pods) pod.received.length = 0;
  });
  afterAll(async () => {
    await app.close();
    await upstreams.close();
    for (const pod of pods) pod.server.close();
  });

  it('routes by the JSON field, forwarding the body without it, with a request id both ways', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json', 'x-request-id': 'req-1' }, payload: { model: 'posts', texts: ['great'] } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-1');
    expect(res.headers['x-served-by']).toBe('zh');
    expect(pods[2]!.received[0]).toMatchObject({ method: 'POST', url: '/v1/sentiment', body: '{"texts":["great"]}' });
    expect(pods[2]!.received[0]!.headers['x-request-id']).toBe('req-1');
    expect(pods[2]!.received[0]!.headers['content-length']).toBe('19');
  });

  it('routes by header, forwarding the body as sent (its model field too), generating a request id', async () => {
    const payload = '{"inputs": "not even looked at", "model": "stays"}';
    const res = await app.inject({ method: 'POST', url: '/predict?x=1', headers: { 'content-type': 'application/json', 'sentiment-model': 'reviews.shop' }, payload });
    expect(res.statusCode).toBe(200);
    const received = [...pods[0]!.received, ...pods[1]!.received];
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ url: '/predict?x=1', body: payload });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(received[0]!.headers['x-request-id']).toBe(res.headers['x-request-id']);
  });

  it('streams a body too long to read first, past the limit on bodies it parses', async () => {
    const payload = Buffer.alloc(200 * 1024, 'a');
    const res = await app.inject({ method: 'POST', url: '/v2/models/posts/infer', headers: { 'content-type': 'application/octet-stream' }, payload });
    expect(res.statusCode).toBe(200);
    expect(pods[2]!.received[0]!.body.length).toBe(payload.length);
    expect(pods[2]!.received[0]!.headers['content-length']).toBe(String(payload.length));
  });

  it('passes the pod\'s error answers through unchanged', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json' }, payload: { model: 'posts', text: 'bad' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ servedBy: 'zh' });
  });

  it('spreads requests over the ready pods', async () => {
    await Promise.all(Array.from({ length: 10 }, () => app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'sentiment-model': 'reviews' }, payload: { text: 'x' } })));
    expect(pods[0]!.received.length).toBe(5);
    expect(pods[1]!.received.length).toBe(5);
  });

  it('routes V2 by the path, rewriting a qualified name to the one the runtime serves', async () => {
    const res = await app.inject({ method: 'POST', url: '/v2/models/posts.blog/infer', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from([1, 2, 3]) });
    expect(res.statusCode).toBe(200);
    expect(pods[2]!.received[0]).toMatchObject({ url: '/v2/models/posts/infer', body: '\u0001\u0002\u0003' });
    const meta = await app.inject({ method: 'GET', url: '/v2/models/posts/versions/3/ready' });
    expect(meta.json()).toMatchObject({ url: '/v2/models/posts/versions/3/ready' });
    // A percent-encoded name is decoded to find the model; the rest of the path is kept as sent.
    const encoded = await app.inject({ method: 'GET', url: '/v2/models/p%6fsts/versions/a%2Fb/ready?x=1' });
    expect(encoded.json()).toMatchObject({ url: '/v2/models/posts/versions/a%2Fb/ready?x=1' });
    expect((await app.inject({ method: 'GET', url: '/v2/models/posts?x=1' })).json()).toMatchObject({ url: '/v2/models/posts?x=1' });
  });

  it('answers unknown and unnamed models in the runtime\'s error body', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/v2/models/nope/infer', payload: '{}' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'unknown model "nope"', error_type: 'NotFound' });
    const unnamed = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json' }, payload: { text: 'x' } });
    expect(unnamed.statusCode).toBe(400);
    expect(unnamed.json().error).toMatch(/name the model/);
    const tooLarge = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json' }, payload: { text: 'x'.repeat(5000) } });
    expect(tooLarge.statusCode).toBe(413);
  });

  it('holds a request for a model without a ready pod, asks for a replica, and answers once one is ready', async () => {
    woken.length = 0;
    const pending = app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'sentiment-model': 'sleepy' }, payload: { text: 'x' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(woken).toEqual(['sleepy']);
    expect(holds.count('blog/sleepy')).toBe(1);
    put({ namespace: 'blog', name: 'sleepy', uid: '3', ready: [pods[2]!.url], replicas: 1, wakeable: true, languages: [] });
    holds.release('blog/sleepy');
    const res = await pending;
    expect(res.statusCode).toBe(200);
    put({ namespace: 'blog', name: 'sleepy', uid: '3', ready: [], replicas: 0, wakeable: true, languages: [] });
  });

  it('answers 503 with Retry-After when no pod is ready within the hold timeout, and 429 beyond the hold bound', async () => {
    const requests = Array.from({ length: 3 }, () => app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'sentiment-model': 'sleepy' }, payload: { text: 'x' } }));
    const answers = await Promise.all(requests);
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes).toEqual([429, 503, 503]);
    const timedOut = answers.find((a) => a.statusCode === 503)!;
    expect(timedOut.headers['retry-after']).toBe('5');
    expect(timedOut.json()).toMatchObject({ error_type: 'NoReadyReplica' });
  });

  it('retries a read body on another pod when one refuses the connection, and answers 502 when none is left', async () => {
    const dead = await echoServer('dead');
    await new Promise((resolve) => dead.server.close(resolve));
    put({ namespace: 'blog', name: 'flaky', uid: '4', ready: [dead.url, pods[2]!.url], replicas: 2, wakeable: false, languages: [] });
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json' }, payload: { model: 'flaky', text: 'x' } });
      expect(res.statusCode).toBe(200);
    }
    put({ namespace: 'blog', name: 'flaky', uid: '4', ready: [dead.url], replicas: 1, wakeable: false, languages: [] });
    const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json' }, payload: { model: 'flaky', text: 'x' } });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ error_type: 'UpstreamFailed' });
    catalog.delete('blog', 'flaky');
  });

  it('answers 502 in its own error body when a pod dies half-way through its answer', async () => {
    const dying = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"results":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    put({ namespace: 'blog', name: 'dying', uid: '5', ready: [`http://127.0.0.1:${(dying.address() as AddressInfo).port}`], replicas: 1, wakeable: false, languages: [] });
    const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'sentiment-model': 'dying' }, payload: { text: 'x' } });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ error_type: 'UpstreamFailed' });
    expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
    catalog.delete('blog', 'dying');
    upstreams.update('blog/dying', []);
    dying.close();
  });

  it('answers 503 NotReady, not 404, before its first list of models is in', async () => {
    synced = false;
    const res = await app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'sentiment-model': 'reviews' }, payload: { text: 'x' } });
    synced = true;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ error_type: 'NotReady' });
  });

  it('lists the models it serves', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(res.json().models).toEqual([
      { id: 'posts', name: 'posts', namespace: 'blog', readyReplicas: 1, replicas: 1, scaleFromZero: false, state: 'Ready' },
      { id: 'sleepy', name: 'sleepy', namespace: 'blog', readyReplicas: 0, replicas: 0, scaleFromZero: true, state: 'ScaledToZero' },
      { id: 'reviews', name: 'reviews', namespace: 'shop', readyReplicas: 2, replicas: 2, scaleFromZero: false, state: 'Ready' },
    ]);
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/sentiment_router_requests_total\{namespace="shop",model="reviews",code="200"\} \d+/);
  });
});
