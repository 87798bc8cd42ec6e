// The router end to end on the real control plane (kwok pods, the real EndpointSlice controller)
// with the operator and its builtin autoscaler, and real runtime processes on localhost standing in
// for the pods on the data path: only the endpoint -> address resolution is injected (into the
// router and the autoscaler's scrapes alike), never an answer. The router runs with exactly the
// chart's RBAC for it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_MODEL } from '../../operator/src/api/v1alpha1/index.js';
import { parseKubeConfig } from '../../operator/src/kube/config.js';
import { defaultAndValidate } from '../../router/src/config.js';
import { run as runRouter } from '../../router/src/run.js';
import { cpuNode, k8sBinDir, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, listEvents, waitFor } from '../support/kube.js';
import { applyModel, readModel, scrape, startOperator, sumMetric, waitForModel, type RunningOperator } from '../support/operator.js';
import { models, post, readTsv, repoRoot, requireShared, sharedDir, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const ns = 'router';
const RELEASE_NAMESPACE = 'sentiment-system';
const DELAY_S = 6;
const HOLD_TIMEOUT_MS = 15_000;
const POSITIVE = 'A gorgeous, witty, seductive movie.';
const NEGATIVE = 'The plot is tedious and the acting is wooden.';

describe('router: one endpoint for every model, scale from zero', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  /** One runtime process per model, serving under the model's name as the operator would configure it. */
  const urls: Record<string, string> = {};
  let cp: ControlPlane;
  let op: RunningOperator;
  const stopRouter = new AbortController();
  let router: { port: number; done: Promise<void> };
  let base: string;

  const runtimeFor = async (model: string, ...args: string[]) => {
    const child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--server.drainDelayMs=0', '--session.intraOpThreads=1', `--model.name=${model}`, ...args]);
    children.push(child);
    urls[model] = await waitForReadyUrl(child);
  };
  const podUrl = (pod: V1Pod) => urls[pod.metadata?.labels?.[LABEL_MODEL] ?? ''];

  beforeAll(async () => {
    const [plane] = await Promise.all([
      startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1', { cpu: '8' })] }),
      runtimeFor('always'), runtimeFor('sleepy'),
      runtimeFor('reviews', `--model.path=${requireShared(models.english)}`), runtimeFor('reviews-zh', `--model.path=${requireShared(models.chinese)}`),
    ]);
    cp = plane;
    for (const namespace of [ns, RELEASE_NAMESPACE]) await createNamespace(cp.kubeConfig, namespace);
    // The chart's RBAC for the router, and nothing more, applied as helm would.
    const helm = join(k8sBinDir(), 'helm');
    const rendered = execFileSync(helm, ['template', 'sentiment-operator', join(repoRoot, 'charts', 'sentiment-operator'), '--namespace', RELEASE_NAMESPACE, '--set', `watchNamespaces={${ns}}`], { encoding: 'utf8' });
    const rbac = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
      .filter((o) => o && o.metadata.name === 'sentiment-operator-router' && ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
    expect(rbac.map((o) => o!.kind).sort()).toEqual(['Role', 'RoleBinding', 'ServiceAccount']);
    const file = join(mkdtempSync(join(tmpdir(), 'router-rbac-')), 'rbac.yaml');
    writeFileSync(file, rbac.map((o) => stringify(o)).join('---\n'));
    await promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=helm', '-f', file]);

    op = await startOperator(cp.kubeConfig, { autoscaler: { intervalMs: 500, scrapeTimeoutMs: 400, persistIntervalSeconds: 5 } }, { podAddress: podUrl });
    const access = parseKubeConfig((await cp.serviceAccountKubeConfig(RELEASE_NAMESPACE, 'sentiment-operator-router')).exportConfig());
    router = await runRouter(stopRouter.signal, access, defaultAndValidate({
      namespaces: [ns], http: { host: '127.0.0.1', port: 0 }, hold: { timeoutMs: HOLD_TIMEOUT_MS, maxRequests: 100 }, drain: { delayMs: 0 }, logLevel: process.env.SENTIMENT_TEST_LOG ?? 'warn',
    }), { endpointAddress: (e) => (e.pod ? urls[e.model] : undefined) });
    base = `http://127.0.0.1:${router.port}`;

    await applyModel(cp.kubeConfig, ns, 'always', { replicas: 1 });
    await applyModel(cp.kubeConfig, ns, 'sleepy', {
      replicas: 0,
      autoscaling: { enabled: true, minReplicas: 0, maxReplicas: 1, target: 8, stableWindowSeconds: 6, panicWindowSeconds: 2, scaleDownDelaySeconds: DELAY_S },
    });
    // At zero and not the autoscaler's to wake: the router must leave it there.
    await applyModel(cp.kubeConfig, ns, 'parked', { replicas: 0 });
    // One endpoint for both languages: English by the model itself, Chinese by reviews-zh.
    await applyModel(cp.kubeConfig, ns, 'reviews-zh', { replicas: 1 });
    await applyModel(cp.kubeConfig, ns, 'reviews', { replicas: 1, routing: { languages: [{ language: 'zh', model: 'reviews-zh' }] } });
    await waitFor(async () => {
      const res = await fetch(`${base}/v1/models`);
      const { models } = (await res.json()) as { models: { id: string; state: string }[] };
      return ['always', 'reviews', 'reviews-zh'].every((id) => models.find((m) => m.id === id)?.state === 'Ready') && models.length === 5;
    }, 60_000, 'the router never listed "always", "reviews" and "reviews-zh" as Ready');
  });
  afterAll(async () => {
    stopRouter.abort();
    await router?.done;
    await op?.stop();
    await cp?.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('lists what it serves, and is ready once its caches are', async () => {
    const res = await fetch(`${base}/v1/models`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { models: unknown[] }).models).toEqual([
      { id: 'always', name: 'always', namespace: ns, readyReplicas: 1, replicas: 1, scaleFromZero: false, state: 'Ready' },
      { id: 'parked', name: 'parked', namespace: ns, readyReplicas: 0, replicas: 0, scaleFromZero: false, state: 'ScaledToZero' },
      { id: 'reviews', name: 'reviews', namespace: ns, readyReplicas: 1, replicas: 1, scaleFromZero: false, state: 'Ready' },
      { id: 'reviews-zh', name: 'reviews-zh', namespace: ns, readyReplicas: 1, replicas: 1, scaleFromZero: false, state: 'Ready' },
      { id: 'sleepy', name: 'sleepy', namespace: ns, readyReplicas: 0, replicas: 0, scaleFromZero: true, state: 'ScaledToZero' },
    ]);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('answers through all three APIs of a ready model, and 404 for a model it does not know', async () => {
    const own = await post(`${base}/v1/sentiment`, { model: 'always', texts: [POSITIVE, NEGATIVE] });
    expect(own.status).toBe(200);
    expect(own.json.results.map((r: { label: string }) => r.label)).toEqual(['positive', 'negative']);
    expect(own.headers.get('x-request-id')).toBeTruthy();
    const tei = await post(`${base}/predict`, { inputs: POSITIVE }, { 'sentiment-model': `always.${ns}` });
    expect(tei.status).toBe(200);
    expect(tei.json[0].label).toBe('positive');
    const v2 = await post(`${base}/v2/models/always/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [NEGATIVE] }] });
    expect(v2.status).toBe(200);
    expect(v2.json.model_name).toBe('always');
    expect(v2.json.outputs[0]).toMatchObject({ name: 'label', data: ['negative'] });

    const unknown = await post(`${base}/v1/sentiment`, { model: 'nope', text: POSITIVE });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'unknown model "nope"', error_type: 'NotFound' });
    const v2Unknown = await post(`${base}/v2/models/nope/infer`, { inputs: [] });
    expect(v2Unknown.status).toBe(404);
  });

  it('answers each text of a mixed zh/en request by the model of its language, in the order sent', async () => {
    const english = readTsv(join(sharedDir, 'data/sst2/dev.tsv')).slice(0, 8).map((row) => row.sentence);
    const chinese = readTsv(join(sharedDir, 'data/chnsenticorp/dev.tsv')).slice(0, 8).map((row) => row.sentence);
    // Interleaved unevenly, so that order mistakes cannot cancel out.
    const texts = [english[0]!, chinese[0]!, chinese[1]!, english[1]!, english[2]!, ...chinese.slice(2), ...english.slice(3)];
    const isChinese = texts.map((text) => chinese.includes(text));
    const routed = await post(`${base}/v1/sentiment`, { model: 'reviews', texts });
    expect(routed.status).toBe(200);
    expect(routed.json.model).toBe('reviews,reviews-zh');

    // Each runtime's own answer for the same texts, asked directly.
    type Result = { label: string; score: number; warnings: string[] };
    const direct = async (model: string, subset: string[]) => (await post(`${urls[model]}/v1/sentiment`, { texts: subset })).json.results as Result[];
    const [fromEnglish, fromChinese] = await Promise.all([direct('reviews', texts.filter((_, i) => !isChinese[i])), direct('reviews-zh', texts.filter((_, i) => isChinese[i]))]);
    const expected = texts.map((_, i) => (isChinese[i] ? fromChinese : fromEnglish).shift()!);
    const summary = (results: Result[]) => results.map((r) => ({ label: r.label, score: r.score.toFixed(4), warnings: r.warnings }));
    expect(summary(routed.json.results as Result[])).toEqual(summary(expected));
    // The wrong model would have warned about the script (runtime/src/http/present.ts): no text got one.
    expect((routed.json.results as Result[]).flatMap((r) => r.warnings).filter((w) => /script.*not trained on/.test(w))).toEqual([]);

    // One Chinese text alone goes whole to the Chinese model, named by header like any request.
    const one = await post(`${base}/v1/sentiment`, { text: chinese[0] }, { 'sentiment-model': 'reviews' });
    expect(one.json).toMatchObject({ model: 'reviews-zh', results: [{ label: expected[1]!.label, warnings: expected[1]!.warnings }] });

    // TEI's /predict batch is split the same way; a V2 request goes whole to the model of most of its texts.
    const tei = await post(`${base}/predict`, { inputs: texts.map((text) => [text]) }, { 'sentiment-model': 'reviews' });
    expect(tei.status).toBe(200);
    expect((tei.json as { label: string }[][]).map((ranking) => ranking[0]!.label)).toEqual(expected.map((r) => r.label));
    const v2 = await post(`${base}/v2/models/reviews/infer`, { inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: [chinese[0], english[0], chinese[1]] }] });
    expect(v2.status).toBe(200);
    expect(v2.json.model_name).toBe('reviews-zh');
  });

  it('holds requests for a model at zero, scales it to one, and answers every held request correctly', async () => {
    expect((await readModel(cp.kubeConfig, ns, 'sleepy'))?.spec.replicas).toBe(0);
    const started = Date.now();
    // Mixed APIs and texts, all sent while the model has no pod.
    const held = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const text = i % 2 === 0 ? POSITIVE : NEGATIVE;
      const expected = i % 2 === 0 ? 'positive' : 'negative';
      if (i % 3 === 0) {
        const res = await post(`${base}/v1/sentiment`, { model: 'sleepy', text });
        return { status: res.status, label: res.json.results?.[0]?.label, expected };
      }
      if (i % 3 === 1) {
        const res = await post(`${base}/predict`, { inputs: text }, { 'sentiment-model': 'sleepy' });
        return { status: res.status, label: res.json[0]?.label, expected };
      }
      const res = await post(`${base}/v2/models/sleepy.${ns}/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [text] }] });
      return { status: res.status, label: res.json.outputs?.[0]?.data?.[0], expected };
    }));
    const tookMs = Date.now() - started;
    expect(held.filter((r) => r.status !== 200)).toEqual([]);
    expect(held.filter((r) => r.label !== r.expected)).toEqual([]);

    const model = await waitForModel(cp.kubeConfig, ns, 'sleepy', (m) => m.status?.coldStart !== undefined, 10_000, 'status.coldStart');
    expect(model.spec.replicas).toBe(1);
    const seconds = model.status!.coldStart!.seconds;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds * 1000).toBeLessThanOrEqual(tookMs + 1000);
    // The parts it could read: the kwok pod's PodScheduled, and the rest. The runtime process standing in
    // for the pod started before the wake, so its load and warm-up are not this cold start's and are left out.
    const parts = model.status!.coldStart!.parts ?? {};
    expect(Object.keys(parts).sort()).toEqual(['ready', 'scheduling']);
    const partsSum = Object.values(parts).reduce((a, b) => a + b, 0);
    expect(Math.abs(partsSum - seconds)).toBeLessThanOrEqual(0.02);
    // Only the router wrote 0 -> 1, once; the autoscaler adopted it rather than writing it back.
    const owners = model.metadata.managedFields?.filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('"f:replicas"')).map((f) => f.manager);
    expect(owners).toContain('sentiment-router');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(sumMetric(metrics, 'sentiment_router_scale_from_zero_total', { namespace: ns, model: 'sleepy' })).toBe(1);
    expect(sumMetric(metrics, 'sentiment_router_cold_start_seconds_count', { namespace: ns, model: 'sleepy' })).toBe(1);
    for (const part of ['scheduling', 'ready']) expect(sumMetric(metrics, 'sentiment_router_cold_start_part_seconds_count', { namespace: ns, model: 'sleepy', part })).toBe(1);
    expect(sumMetric(metrics, 'sentiment_router_cold_start_part_seconds_count', { namespace: ns, model: 'sleepy', part: 'modelLoad' })).toBe(0);
    expect(sumMetric(metrics, 'sentiment_router_requests_total', { namespace: ns, model: 'sleepy', code: '200' })).toBe(12);
    expect(await listEvents(cp.kubeConfig, ns, 'sleepy', 'ScaledDown')).toEqual([]);
    console.log(`scale from zero: 12 held requests answered in ${tookMs} ms; status.coldStart.seconds ${seconds}, parts ${JSON.stringify(parts)}`);
  });

  it('scales the idle model back to zero after the delay, and leaves a model at zero it may not wake', async () => {
    const lastRequest = Date.now();
    const [asleep, parked] = await Promise.all([
      waitForModel(cp.kubeConfig, ns, 'sleepy', (m) => m.spec.replicas === 0 && m.status?.autoscaling?.reason === 'Idle', 45_000, 'back at zero'),
      post(`${base}/v1/sentiment`, { model: 'parked', text: POSITIVE }),
    ]);
    const idleFor = Date.now() - lastRequest;
    expect(idleFor).toBeGreaterThanOrEqual((DELAY_S - 1) * 1000);
    expect(asleep.status?.desiredReplicas).toBe(0);
    const down = await listEvents(cp.kubeConfig, ns, 'sleepy', 'ScaledDown');
    expect(down.at(-1)?.message).toMatch(/^1 -> 0 replicas \(Idle\)/);

    // No replica within the hold timeout: 503 with Retry-After, and no write to a model that is not the router's to wake.
    expect(parked.status).toBe(503);
    expect(parked.headers.get('retry-after')).toBe('5');
    expect(parked.json).toMatchObject({ error_type: 'NoReadyReplica' });
    expect((await readModel(cp.kubeConfig, ns, 'parked'))?.spec.replicas).toBe(0);
    await waitFor(async () => (await (await fetch(`${base}/v1/models`)).json() as { models: { id: string; state: string }[] }).models.find((m) => m.id === 'sleepy')?.state === 'ScaledToZero', 15_000, 'router still lists sleepy as not at zero');
    const operatorMetrics = await scrape(op.port);
    expect(sumMetric(operatorMetrics, 'sentiment_operator_autoscaler_desired_replicas', { namespace: ns, name: 'sleepy' })).toBe(0);
    // Scaling to zero empties status.revisions, which every status write must survive.
    expect(sumMetric(operatorMetrics, 'sentiment_operator_reconcile_errors_total')).toBe(0);
  });
});
