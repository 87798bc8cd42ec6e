// The router's half of a canary rollout on the data path, with real runtime processes on localhost
// standing in for the stable and the candidate pods: the model's route is built by discovery's own
// routedModel() from a SentimentModel object and EndpointSlices as the apiserver would hand them
// over (the canary's spec and status fields included), so only the cluster itself is left out.
// The "flipping" candidate is the demo model with id2label swapped: the same scores under the
// opposite names, the worst candidate there is and one no check on latency or errors would catch.
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SERIES, canaryName } from '#contract/canary.js';
import type { SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { Canaries, candidateKey } from '../../router/src/canary/canary.js';
import { Catalog, endpointAddress, routedModel, SERVICE_NAME_LABEL } from '../../router/src/discovery/catalog.js';
import { Holds } from '../../router/src/hold.js';
import { buildApp } from '../../router/src/http/app.js';
import { RouterMetrics } from '../../router/src/metrics.js';
import { Upstreams } from '../../router/src/upstreams.js';
import { waitFor } from '../support/kube.js';
import { flippedModelCopy, models, post, readTsv, requireShared, sharedDir, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const ns = 'shop';
const name = 'reviews';
const REVISION = 'cand1234';
const MAX_COPIES = 64;
type Step = { shadowPercent: number } | { weightPercent: number };

describe('router: canary and shadow traffic against real runtimes', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  const dirs: string[] = [];
  const urls = { stable: '', flipped: '', same: '', down: '' };
  const catalog = new Catalog();
  const upstreams = new Upstreams({ connectionsPerPod: 8, timeoutMs: 10_000 });
  const metrics = new RouterMetrics();
  const canaries = new Canaries(MAX_COPIES);
  const app = buildApp({
    catalog, canaries, upstreams, holds: new Holds({ timeoutMs: 2000, maxRequests: 100 }), metrics,
    wake: () => undefined, bodyLimitBytes: 1 << 20, logLevel: 'silent', ready: () => true, synced: () => true,
  }, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
  let base: string;
  /** SST-2 dev sentences the demo model is sure of (score >= 0.6): near a tie, batching alone may tip a label either way. */
  let sentences: string[];
  let step = 0;

  /** The model as discovery sees it, in canary step `step` with `candidate` as the only candidate pod. */
  const enterStep = (candidate: string, at: Step) => {
    step++;
    const model = {
      apiVersion: 'serving.sentiment.dev/v1alpha1', kind: 'SentimentModel',
      metadata: { namespace: ns, name, uid: 'u1' },
      spec: {
        replicas: 1, autoscaling: { enabled: false, engine: 'builtin', minReplicas: 1 },
        rollout: { canary: { steps: [...Array.from({ length: step }, () => ({ shadowPercent: 100, texts: 10 })), { ...at, texts: 10 }], analysis: { negativeLabel: 'NEGATIVE' } } },
      },
      status: { canary: { phase: 'Analyzing', revision: REVISION, step } },
    } as unknown as SentimentModel;
    const routed = routedModel(model, [slice(name, urls.stable), slice(canaryName(name), candidate)], endpointAddress);
    expect(routed.canary).toMatchObject({ revision: REVISION, step, ready: [candidate], negativeLabel: 'negative', ...at });
    canaries.update(catalog.get(ns, name), routed, metrics);
    catalog.set(routed);
    upstreams.update(`${ns}/${name}`, routed.ready);
    upstreams.update(candidateKey(routed), routed.canary!.ready);
  };

  /** A series' value in the current step (summed over the labels not given). */
  const series = async (metric: string, labels: Record<string, string> = {}) => {
    const all = await metrics.registry.getSingleMetric(metric)!.get();
    return all.values.filter((v) => v.labels.step === String(step) && v.labels.revision === REVISION && !('le' in v.labels)
      && Object.entries(labels).every(([k, value]) => v.labels[k] === value) && (!('metricName' in v) || !String(v.metricName).endsWith('_sum') && !String(v.metricName).endsWith('_bucket')))
      .reduce((sum, v) => sum + v.value, 0);
  };
  const settled = (texts: number) => waitFor(async () => (await series(CANARY_SERIES.compared)) >= texts, 20_000, `fewer than ${texts} texts compared`);

  beforeAll(async () => {
    const flippedDir = flippedModelCopy(requireShared(models.demo));
    dirs.push(flippedDir);
    const runtime = async (path: string) => {
      const child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--server.drainDelayMs=0', '--session.intraOpThreads=1', `--model.name=${name}`, `--model.path=${path}`]);
      children.push(child);
      return waitForReadyUrl(child);
    };
    [urls.stable, urls.flipped, urls.same, urls.down] = await Promise.all([runtime(models.demo), runtime(flippedDir), runtime(models.demo), closedPort()]);
    const dev = readTsv(join(requireShared(sharedDir), 'data/sst2/dev.tsv')).slice(0, 300).map((row) => row.sentence);
    const scored: { score: number }[] = [];
    for (let i = 0; i < dev.length; i += 25) scored.push(...(await post(`${urls.stable}/v1/sentiment`, { texts: dev.slice(i, i + 25) })).json.results);
    sentences = dev.filter((_, i) => scored[i]!.score >= 0.6);
    expect(sentences.length).toBeGreaterThan(220);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await upstreams.close();
    for (const child of children) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** What the stable runtime answers itself: the labels every shadowed answer must carry. */
  const stableLabels = async (texts: string[]) => ((await post(`${urls.stable}/v1/sentiment`, { texts })).json.results as { label: string }[]).map((r) => r.label);
  const flip = (label: string) => (label === 'negative' ? 'positive' : 'negative');

  it('shadow: clients get only stable answers on all three APIs; a flipping candidate agrees on no text', async () => {
    enterStep(urls.flipped, { shadowPercent: 100 });
    const texts = sentences.slice(0, 30);
    const expected = await stableLabels(texts);
    const answers = await Promise.all(texts.map(async (text, i) => {
      if (i % 3 === 0) return (await post(`${base}/v1/sentiment`, { model: name, texts: [text] })).json.results[0].label as string;
      if (i % 3 === 1) return (await post(`${base}/predict`, { inputs: text }, { 'sentiment-model': name })).json[0].label as string;
      return (await post(`${base}/v2/models/${name}/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [text] }] })).json.outputs[0].data[0] as string;
    }));
    expect(answers).toEqual(expected);
    await settled(30);
    expect(await series(CANARY_SERIES.compared)).toBe(30);
    expect(await series(CANARY_SERIES.agreeing)).toBe(0);
    const negatives = expected.filter((label) => label === 'negative').length;
    expect(await series(CANARY_SERIES.negative, { side: 'stable' })).toBe(negatives);
    expect(await series(CANARY_SERIES.negative, { side: 'candidate' })).toBe(30 - negatives);
    expect(await series(CANARY_SERIES.candidateRequests, { outcome: 'ok' })).toBe(30);
    // Per-class scores come from /v1/sentiment and /predict (V2 names no class per score): the
    // flipped candidate gives "negative" the score stable gives "positive".
    const [sn, sp, cn, cp] = await Promise.all([['stable', 'negative'], ['stable', 'positive'], ['candidate', 'negative'], ['candidate', 'positive']]
      .map(([side, label]) => series(CANARY_SERIES.scoreSum, { side: side!, label: label! })));
    // Equal up to how batching (padding) moves a score, far below any drift threshold.
    expect(Math.abs(cn! - sp!) / 20).toBeLessThan(0.001);
    expect(Math.abs(cp! - sn!) / 20).toBeLessThan(0.001);
    expect(sn! + sp!).toBeCloseTo(20, 6);
  });

  it('shadow: an identical candidate agrees on every text, batches included', async () => {
    enterStep(urls.same, { shadowPercent: 50 });
    const batches = Array.from({ length: 10 }, (_, i) => sentences.slice(40 + i * 4, 44 + i * 4));
    for (const texts of batches) expect((await post(`${base}/v1/sentiment`, { model: name, texts })).status).toBe(200);
    await settled(20);
    expect(await series(CANARY_SERIES.compared)).toBe(20);
    expect(await series(CANARY_SERIES.agreeing)).toBe(20);
    expect(await series(CANARY_SERIES.negative, { side: 'candidate' })).toBe(await series(CANARY_SERIES.negative, { side: 'stable' }));
    const [stable, candidate] = await Promise.all(['stable', 'candidate'].map((side) => series(CANARY_SERIES.scoreSum, { side, label: 'positive' })));
    expect(Math.abs(candidate! - stable!) / 20).toBeLessThan(0.001);
  });

  it('weight: the candidate answers exactly its share, each checked against stable', async () => {
    enterStep(urls.flipped, { weightPercent: 10 });
    const texts = sentences.slice(100, 140);
    const expected = await stableLabels(texts);
    const answers: string[] = [];
    // One after another: which requests the candidate gets follows their order.
    for (const text of texts) answers.push((await post(`${base}/v1/sentiment`, { model: name, text })).json.results[0].label);
    const flippedAt = answers.flatMap((label, i) => (label === expected[i] ? [] : [i]));
    expect(flippedAt).toEqual([9, 19, 29, 39]);
    expect(flippedAt.every((i) => answers[i] === flip(expected[i]!))).toBe(true);
    await settled(4);
    expect(await series(CANARY_SERIES.candidateRequests, { outcome: 'ok' })).toBe(4);
    expect(await series(CANARY_SERIES.agreeing)).toBe(0);
  });

  it('a candidate that is down fails no client request, in weight and in shadow steps', async () => {
    const texts = sentences.slice(200, 220);
    const expected = await stableLabels(texts);
    for (const at of [{ weightPercent: 50 }, { shadowPercent: 100 }]) {
      enterStep(urls.down, at);
      const answers = await Promise.all(texts.map((text) => post(`${base}/v1/sentiment`, { model: name, text })));
      expect(answers.map((a) => a.status)).toEqual(texts.map(() => 200));
      expect(answers.map((a) => a.json.results[0].label)).toEqual(expected);
      const sent = 'weightPercent' in at ? 10 : 20;
      await waitFor(async () => (await series(CANARY_SERIES.candidateRequests, { outcome: 'error' })) === sent, 10_000, 'candidate errors not counted');
      expect(await series(CANARY_SERIES.compared)).toBe(0);
    }
  });

  it('/v1/models shows the canary step and its ready candidate pods', async () => {
    enterStep(urls.same, { weightPercent: 50 });
    const listed = (await (await fetch(`${base}/v1/models`)).json()) as { models: unknown[] };
    expect(listed.models).toEqual([expect.objectContaining({ id: name, state: 'Ready', canary: { revision: REVISION, step, weightPercent: 50, readyReplicas: 1 } })]);
  });
});


/** A local address nothing listens on: a candidate pod that died after its endpoint was listed. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function slice(service: string, url: string): V1EndpointSlice {
  const { hostname, port } = new URL(url);
  return {
    addressType: 'IPv4', metadata: { labels: { [SERVICE_NAME_LABEL]: service } },
    ports: [{ name: 'http', port: Number(port) }],
    endpoints: [{ addresses: [hostname], conditions: { ready: true } }],
  };
}
