import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SERIES } from '#contract/canary.js';
import { Catalog, type RoutedCanary } from '../discovery/catalog.js';
import { Holds } from '../hold.js';
import { buildApp } from '../http/app.js';
import { RouterMetrics } from '../metrics.js';
import { Upstreams } from '../upstreams.js';
import { Canaries, candidateKey } from './canary.js';

/** A pod answering /v1/sentiment with one label for every text; `hold` keeps its answers back until released. */
async function pod(label: string, status = 200): Promise<{ url: string; server: Server; received: number; held: ServerResponse[]; hold: boolean; release(): void }> {
  const state = {
    url: '', received: 0, held: [] as ServerResponse[], hold: false,
    server: createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        state.received++;
        const texts = (JSON.parse(body) as { texts: string[] }).texts;
        const answer = JSON.stringify({ model: 'm', revision: label, results: texts.map(() => ({ label, score: 0.75, scores: [{ label, score: 0.75 }], truncated: false, warnings: [] })) });
        // With its length, as the runtime sends it: only an answer of known, small length is read whole and compared.
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer), 'x-pod': label });
        if (state.hold) state.held.push(Object.assign(res, { answer }));
        else res.end(answer);
      });
    }),
    release: () => {
      for (const res of state.held.splice(0)) res.end((res as ServerResponse & { answer: string }).answer);
    },
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe('canary on the data path', () => {
  const catalog = new Catalog();
  const upstreams = new Upstreams({ connectionsPerPod: 8, timeoutMs: 5000 });
  const metrics = new RouterMetrics();
  const app = buildApp({
    catalog, canaries: new Canaries(2), upstreams, holds: new Holds({ timeoutMs: 500, maxRequests: 10 }), metrics,
    wake: () => undefined, bodyLimitBytes: 4096, logLevel: 'silent', ready: () => true, synced: () => true,
  }, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
  let stable: Awaited<ReturnType<typeof pod>>;
  const pods: Awaited<ReturnType<typeof pod>>[] = [];
  let step = 0;

  const enter = async (candidate: Awaited<ReturnType<typeof pod>>, share: Pick<RoutedCanary, 'shadowPercent' | 'weightPercent'>) => {
    const model = { namespace: 'ns', name: 'm', uid: 'u', ready: [stable.url], replicas: 1, wakeable: false, languages: [], canary: { revision: 'r', step: ++step, negativeLabel: 'negative', ready: [candidate.url], ...share } };
    catalog.set(model);
    upstreams.update('ns/m', model.ready);
    upstreams.update(candidateKey(model), model.canary.ready);
  };
  const ask = () => app.inject({ method: 'POST', url: '/v1/sentiment', headers: { 'content-type': 'application/json', 'sentiment-model': 'm' }, payload: { texts: ['a', 'b'] } });
  const value = async (metric: string, labels: Record<string, string> = {}) => (await metrics.registry.getSingleMetric(metric)!.get()).values
    .filter((v) => Object.entries({ step: String(step), ...labels }).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
  const eventually = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  beforeAll(async () => {
    stable = await pod('positive');
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await upstreams.close();
    stable.server.close();
    for (const p of pods) p.server.close();
  });

  it('shadow: answers from stable without waiting for the candidate, dropping copies over the bound', async () => {
    const slow = await pod('negative');
    pods.push(slow);
    slow.hold = true;
    await enter(slow, { shadowPercent: 100 });
    for (let i = 0; i < 5; i++) {
      const res = await ask();
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-pod']).toBe('positive');
    }
    await eventually(async () => slow.held.length === 2);
    expect(slow.held).toHaveLength(2);
    expect((await metrics.registry.getSingleMetric('sentiment_router_canary_dropped_copies_total')!.get()).values[0]!.value).toBe(3);
    slow.release();
    await eventually(async () => (await value(CANARY_SERIES.compared)) === 4);
    expect(await value(CANARY_SERIES.compared)).toBe(4);
    expect(await value(CANARY_SERIES.agreeing)).toBe(0);
    expect(await value(CANARY_SERIES.negative, { side: 'candidate' })).toBe(4);
    expect(await value(CANARY_SERIES.negative, { side: 'stable' })).toBe(0);
  });

  it.each([[503, 'error'], [429, 'overloaded']] as const)('weight: a candidate answering %i is replaced by stable and counted %s', async (status, outcome) => {
    const failing = await pod('negative', status);
    pods.push(failing);
    await enter(failing, { weightPercent: 100 });
    const res = await ask();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-pod']).toBe('positive');
    expect(failing.received).toBe(1);
    expect(await value(CANARY_SERIES.candidateRequests, { outcome })).toBe(1);
    expect(await value(CANARY_SERIES.compared)).toBe(0);
  });

  it('weight: a candidate that answers is the answer, checked against stable in the background', async () => {
    const good = await pod('positive');
    pods.push(good);
    await enter(good, { weightPercent: 100 });
    const before = stable.received;
    const res = await ask();
    expect(res.headers['x-pod']).toBe('positive');
    expect(JSON.parse(res.body)).toMatchObject({ revision: 'positive' });
    expect(good.received).toBe(1);
    await eventually(async () => (await value(CANARY_SERIES.agreeing)) === 2);
    expect(stable.received).toBe(before + 1);
    expect(await value(CANARY_SERIES.agreeing)).toBe(2);
    expect(await value(CANARY_SERIES.candidateRequests, { outcome: 'ok' })).toBe(1);
  });
});
