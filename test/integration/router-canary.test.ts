// Canary rollouts end to end on the real control plane (kwok pods, the real Deployment and
// EndpointSlice controllers): the operator holds the stable Deployment, runs the candidate beside
// it and judges the figures it scrapes from a real router, which sends the candidate shadow and
// weighted traffic and compares answers. Real runtime processes on localhost stand in for the pods
// (only the endpoint -> address resolution is injected, into the router and the operator's scrape
// of the router pod alike), and clients send SST-2 dev sentences through the router throughout.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryName } from '#contract/canary.js';
import { parseKubeConfig } from '../../operator/src/kube/config.js';
import { defaultAndValidate } from '../../router/src/config.js';
import { run as runRouter } from '../../router/src/run.js';
import { cpuNode, k8sBinDir, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { applyObject, createNamespace, listEvents, readDeployment, readObject, waitFor } from '../support/kube.js';
import { applyModel, isReady, MODEL_IMAGE, readModel, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';
import { flippedModelCopy, models, post, readTsv, repoRoot, requireShared, sharedDir, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const ns = 'canary';
const name = 'reviews';
const RELEASE_NAMESPACE = 'sentiment-system';
const TEXTS_PER_STEP = 200;
const TEXTS_PER_REQUEST = 4;
const CLIENTS = 3;

const canarySpec = {
  steps: [{ shadowPercent: 100, texts: TEXTS_PER_STEP }, { weightPercent: 10, texts: TEXTS_PER_STEP }, { weightPercent: 50, texts: TEXTS_PER_STEP }],
  // The runtimes share two loaded cores with the control plane and the router: latency says little here.
  analysis: { maxP99LatencySeconds: 5 },
};

describe('canary rollouts: rolled back on a label flip, promoted through every step', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  const dirs: string[] = [];
  const urls = { stable: '', flipped: '', int8: '' };
  /** The process the candidate's pods stand for, set before the spec change that makes them. */
  let candidateUrl = '';
  let cp: ControlPlane;
  let op: RunningOperator;
  const stopRouter = new AbortController();
  let router: { port: number; done: Promise<void> };
  let base: string;
  let sentences: string[] = [];
  const load = { stopped: true, total: 0, failed: [] as string[], running: Promise.resolve() as Promise<unknown> };

  const runtime = async (path: string, quantization: string) => {
    const child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--server.drainDelayMs=0', '--session.intraOpThreads=1', `--model.name=${name}`, `--model.path=${path}`, `--model.quantization=${quantization}`]);
    children.push(child);
    return waitForReadyUrl(child);
  };

  beforeAll(async () => {
    const english = requireShared(models.english);
    const flippedDir = flippedModelCopy(english);
    dirs.push(flippedDir);
    const [plane, stable, flipped, int8] = await Promise.all([
      startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1', { cpu: '8' })] }),
      runtime(english, 'none'), runtime(flippedDir, 'none'), runtime(english, 'int8'),
    ]);
    cp = plane;
    Object.assign(urls, { stable, flipped, int8 });
    // Sentences the stable model is sure of (score >= 0.6): near a tie, batching alone may tip a label.
    const dev = readTsv(join(requireShared(sharedDir), 'data/sst2/dev.tsv')).slice(0, 400).map((row) => row.sentence);
    const scored: { score: number }[] = [];
    for (let i = 0; i < dev.length; i += 25) scored.push(...(await post(`${urls.stable}/v1/sentiment`, { texts: dev.slice(i, i + 25) })).json.results);
    sentences = dev.filter((_, i) => scored[i]!.score >= 0.6);

    for (const namespace of [ns, RELEASE_NAMESPACE]) await createNamespace(cp.kubeConfig, namespace);
    const helm = join(k8sBinDir(), 'helm');
    const rendered = execFileSync(helm, ['template', 'sentiment-operator', join(repoRoot, 'charts', 'sentiment-operator'), '--namespace', RELEASE_NAMESPACE, '--set', `watchNamespaces={${ns}}`], { encoding: 'utf8' });
    const rbac = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
      .filter((o) => o && o.metadata.name === 'sentiment-operator-router' && ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
    const file = join(mkdtempSync(join(tmpdir(), 'router-rbac-')), 'rbac.yaml');
    writeFileSync(file, rbac.map((o) => stringify(o)).join('---\n'));
    await promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=helm', '-f', file]);

    const access = parseKubeConfig((await cp.serviceAccountKubeConfig(RELEASE_NAMESPACE, 'sentiment-operator-router')).exportConfig());
    router = await runRouter(stopRouter.signal, access, defaultAndValidate({
      namespaces: [ns], http: { host: '127.0.0.1', port: 0 }, drain: { delayMs: 0 }, logLevel: process.env.SENTIMENT_TEST_LOG ?? 'warn',
    }), { endpointAddress: (e) => (e.service === canaryName(name) ? candidateUrl : urls.stable) || undefined });
    base = `http://127.0.0.1:${router.port}`;
    // The router as the operator finds it: a pod in the release namespace with the chart's labels (kwok runs it).
    await applyObject(cp.kubeConfig, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'router-0', namespace: RELEASE_NAMESPACE, labels: { 'app.kubernetes.io/name': 'sentiment-operator', 'app.kubernetes.io/instance': 'sentiment-operator', 'app.kubernetes.io/component': 'router' } },
      spec: { nodeName: 'cpu-1', containers: [{ name: 'router', image: 'ghcr.io/example/sentiment-router:0.1.0' }] },
    });
    // The operator's default router selector is the chart's (release sentiment-operator).
    op = await startOperator(cp.kubeConfig, { canary: { routerNamespace: RELEASE_NAMESPACE, scrapeTimeoutMs: 1000 } }, { routerAddress: () => base });

    await applyModel(cp.kubeConfig, ns, name, { replicas: 2, quantization: 'none', rollout: { canary: canarySpec } });
    await waitForModel(cp.kubeConfig, ns, name, (m) => isReady(m) && m.status?.readyReplicas === 2 && m.status.revisions?.serving !== undefined, 60_000, 'two ready replicas');
    await waitFor(async () => (await post(`${base}/v1/sentiment`, { model: name, text: 'fine' })).status === 200, 30_000, 'the router never answered for the model');
  });
  afterAll(async () => {
    load.stopped = true;
    await load.running;
    stopRouter.abort();
    await router?.done;
    await op?.stop();
    await cp?.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Clients sending sentences through the router until stopped; every answer that is not a 200 with a label per text counts as failed. */
  const startLoad = () => {
    Object.assign(load, { stopped: false, total: 0, failed: [] });
    load.running = Promise.all(Array.from({ length: CLIENTS }, async (_, id) => {
      for (let i = id; !load.stopped; i += CLIENTS) {
        const texts = Array.from({ length: TEXTS_PER_REQUEST }, (_, k) => sentences[(i * TEXTS_PER_REQUEST + k) % sentences.length]!);
        const res = await post(`${base}/v1/sentiment`, { model: name, texts }).catch((err: unknown) => ({ status: 0, json: { error: String(err) } }));
        load.total++;
        if (res.status !== 200 || res.json.results?.length !== texts.length) load.failed.push(`${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
      }
    }));
  };
  const stopLoad = async () => {
    load.stopped = true;
    await load.running;
    return { total: load.total, failed: load.failed };
  };
  const stableTemplate = async () => (await readDeployment(cp.kubeConfig, ns, name))?.spec?.template?.metadata?.annotations?.['serving.sentiment.dev/template-hash'];
  const canaryObjects = async () => {
    const ref = { namespace: ns, name: canaryName(name) };
    return [
      await readObject(cp.kubeConfig, { apiVersion: 'apps/v1', kind: 'Deployment', ...ref }),
      await readObject(cp.kubeConfig, { apiVersion: 'v1', kind: 'Service', ...ref }),
      await readObject(cp.kubeConfig, { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: `${canaryName(name)}-runtime-config` }),
    ].filter((o) => o !== undefined);
  };

  it('rolls a candidate that flips labels back automatically, with the reason in status, event and metric, and no failed request', async () => {
    const stable = await stableTemplate();
    candidateUrl = urls.flipped;
    startLoad();
    const started = Date.now();
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2, quantization: 'none', model: { image: { reference: `${MODEL_IMAGE}-flipped` } }, rollout: { canary: canarySpec } });
    const analyzing = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.canary?.phase === 'Analyzing', 30_000, 'canary Analyzing');
    expect(analyzing.status?.revisions?.candidate).toMatchObject({ templateHash: analyzing.status?.canary?.revision, trafficPercent: 0, shadowPercent: 100 });
    expect(analyzing.status?.revisions?.serving).toMatchObject({ templateHash: stable, trafficPercent: 100 });
    const rolledBack = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.canary?.phase === 'RolledBack', 90_000, 'canary RolledBack');
    const seconds = (Date.now() - started) / 1000;
    const figures = await stopLoad();
    const canary = rolledBack.status!.canary!;
    console.log(`rollback: ${seconds.toFixed(1)} s after the spec change; ${canary.analysis?.comparedTexts} texts compared, agreement ${canary.analysis?.labelAgreement}; ` +
      `${figures.failed.length}/${figures.total} client requests failed; reason ${canary.reason}: ${canary.message}`);
    expect(canary).toMatchObject({ step: 0, reason: 'LabelAgreementTooLow' });
    expect(canary.message).toMatch(/label agreement [\d.]+ < 0\.95 over \d+ texts/);
    expect(canary.analysis!.comparedTexts).toBeGreaterThanOrEqual(TEXTS_PER_STEP);
    expect(figures.failed).toEqual([]);
    expect(figures.total).toBeGreaterThan(0);
    const events = await listEvents(cp.kubeConfig, ns, name, 'CanaryRolledBack');
    expect(events.map((e) => e.type)).toEqual(['Warning']);
    expect(events[0]?.message).toContain('LabelAgreementTooLow');
    expect(await op.metric('sentiment_operator_canary_rollbacks_total', { namespace: ns, name, check: 'labelAgreement' })).toBe(1);
    await waitFor(async () => (await canaryObjects()).length === 0, 20_000, 'candidate objects still there');
    expect(await stableTemplate()).toBe(stable);
    expect(rolledBack.status?.revisions?.candidate).toBeUndefined();

    // Held on its template, the stable Deployment still follows spec.replicas.
    await applyModel(cp.kubeConfig, ns, name, { replicas: 3, quantization: 'none', model: { image: { reference: `${MODEL_IMAGE}-flipped` } }, rollout: { canary: canarySpec } });
    await waitFor(async () => (await readDeployment(cp.kubeConfig, ns, name))?.spec?.replicas === 3, 20_000, 'the held Deployment never scaled to 3');
    expect(await stableTemplate()).toBe(stable);
    expect((await readModel(cp.kubeConfig, ns, name))?.status?.canary?.phase).toBe('RolledBack');
  }, 150_000);

  it('promotes a good candidate (the int8 model) through shadow, 10 % and 50 %, with no failed request', async () => {
    candidateUrl = urls.int8;
    const steps: number[] = [];
    startLoad();
    const started = Date.now();
    await applyModel(cp.kubeConfig, ns, name, { replicas: 2, quantization: 'int8', rollout: { canary: canarySpec } });
    const promoted = await waitForModel(cp.kubeConfig, ns, name, (m) => {
      if (m.status?.canary?.phase === 'Analyzing' && steps.at(-1) !== m.status.canary.step) steps.push(m.status.canary.step);
      return m.status?.canary?.phase === 'Promoted';
    }, 150_000, 'canary Promoted');
    const seconds = (Date.now() - started) / 1000;
    const figures = await stopLoad();
    const canary = promoted.status!.canary!;
    console.log(`promotion: ${seconds.toFixed(1)} s after the spec change through steps ${steps.join(' -> ')}; last step ${canary.analysis?.comparedTexts} texts compared, ` +
      `agreement ${canary.analysis?.labelAgreement}, score drift ${canary.analysis?.scoreDrift}; ${figures.failed.length}/${figures.total} client requests failed`);
    expect(steps).toEqual([0, 1, 2]);
    expect(figures.failed).toEqual([]);
    expect(await stableTemplate()).toBe(canary.revision);
    expect(promoted.status?.revisions?.serving?.templateHash).toBe(canary.revision);
    const stepEvents = await listEvents(cp.kubeConfig, ns, name, 'CanaryStep');
    expect(stepEvents.filter((e) => e.message?.includes(canary.revision.slice(0, 12))).length).toBeGreaterThanOrEqual(3);
    expect((await listEvents(cp.kubeConfig, ns, name, 'CanaryPromoted')).length).toBe(1);
    expect(await op.metric('sentiment_operator_canary_promotions_total', { namespace: ns, name })).toBe(1);
    await waitFor(async () => (await canaryObjects()).length === 0, 20_000, 'candidate objects still there');
    expect((await readModel(cp.kubeConfig, ns, name))?.status?.revisions?.candidate).toBeUndefined();
  }, 200_000);
});

