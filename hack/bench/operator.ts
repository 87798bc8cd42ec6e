// npm run bench:operator [-- --models 1000 --concurrency 32 --workers 8]
//
// Creates N SentimentModels on a real kube-apiserver (etcd + apiserver: the operator's own work,
// without a controller-manager turning 1,000 Deployments into pods) and measures, with the
// operator as its own process: time until every model is reconciled (its four children exist and
// its status is written for the current generation), the operator's peak RSS, and the API writes
// during a full resync with nothing changed. Targets (issue 3): <= 60 s, <= 150 MB, 0 writes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PolicyV1Api } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type SentimentModel } from '../../operator/src/api/v1alpha1/index.js';
import { startControlPlane } from '../../test/support/controlplane.js';
import { createNamespace, waitFor } from '../../test/support/kube.js';
import { modelManifest, scrape, sumMetric } from '../../test/support/operator.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '8' },
    'resync-seconds': { type: 'string', default: '20' },
    'node-flag': { type: 'string', multiple: true },
  },
});
const models = Number(values.models);
const concurrency = Number(values.concurrency);
const resyncSeconds = Number(values['resync-seconds']);
const NAMESPACE = 'bench';
// The operator runs as Dockerfile.operator starts it (V8 limits, MALLOC_ARENA_MAX), so the peak
// RSS is what a pod would show; --node-flag replaces the flags to compare.
const OPERATOR_NODE_FLAGS = values['node-flag'] ?? ['--max-semi-space-size=2', '--max-old-space-size=128', '--optimize-for-size'];
const PORT = 18_080;

// npm runs scripts from the package root; the compiled harness would look for crds/ under dist/.
const cp = await startControlPlane({ crdsDir: join(process.cwd(), 'crds') });
const operator = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, join(import.meta.dirname, '..', '..', 'operator', 'src', 'main.js'),
  `--workers=${values.workers}`, `--resync-seconds=${resyncSeconds}`, '--leader-elect=false', `--http-port=${PORT}`, '--http-host=127.0.0.1', '--log-level=warn'], {
  env: { MALLOC_ARENA_MAX: '2', ...process.env, KUBECONFIG: cp.kubeconfigPath }, stdio: ['ignore', 'inherit', 'inherit'],
});
const peakRssMb = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const writes = async () => sumMetric(await scrape(PORT), 'sentiment_operator_api_writes_total');
/** api_writes_total per verb and kind, to say what a resync wrote if it wrote anything. */
const writesByKind = async () => new Map((await scrape(PORT)).split('\n').filter((l) => l.startsWith('sentiment_operator_api_writes_total{')).map((l) => {
  const [series, value] = l.split(' ');
  return [series!.slice('sentiment_operator_api_writes_total'.length), Number(value)] as const;
}));
const reconciles = async () => sumMetric(await scrape(PORT), 'sentiment_operator_reconcile_total');

try {
  await createNamespace(cp.kubeConfig, NAMESPACE, {}, false);
  await waitFor(() => fetch(`http://127.0.0.1:${PORT}/readyz`).then((r) => r.ok, () => false), 30_000, 'operator not ready');
  const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const policy = cp.kubeConfig.makeApiClient(PolicyV1Api);

  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < models; i = next++) {
      await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: PLURAL, body: modelManifest(NAMESPACE, `m${i}`) });
    }
  }));
  const createdS = (performance.now() - started) / 1000;

  const reconciled = async (): Promise<boolean> => {
    const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: PLURAL })) as { items: SentimentModel[] };
    const withStatus = list.items.filter((m) => m.status?.observedGeneration === m.metadata.generation).length;
    if (withStatus < models) return false;
    const counts = await Promise.all([
      apps.listNamespacedDeployment({ namespace: NAMESPACE }).then((l) => l.items.length),
      core.listNamespacedService({ namespace: NAMESPACE }).then((l) => l.items.length),
      core.listNamespacedConfigMap({ namespace: NAMESPACE, labelSelector: 'app.kubernetes.io/managed-by=sentiment-operator' }).then((l) => l.items.length),
      policy.listNamespacedPodDisruptionBudget({ namespace: NAMESPACE }).then((l) => l.items.length),
    ]);
    return counts.every((n) => n === models);
  };
  await waitFor(reconciled, 600_000, 'models not reconciled', 500);
  const convergedS = (performance.now() - started) / 1000;
  const writesAtConvergence = await writes();

  // Reconciled is not yet idle: events and status updates for children that just appeared in the
  // cache still follow. Measure the resync from quiet: no write for 5 s.
  let quiet = await writes();
  for (let stable = 0; stable < 5; ) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = await writes();
    stable = now === quiet ? stable + 1 : 0;
    quiet = now;
  }
  const quietS = (performance.now() - started) / 1000;
  const [writesBefore, reconcilesBefore, byKindBefore] = [await writes(), await reconciles(), await writesByKind()];
  await new Promise((resolve) => setTimeout(resolve, (resyncSeconds + 5) * 1000));
  const [writesAfter, reconcilesAfter, byKindAfter] = [await writes(), await reconciles(), await writesByKind()];
  const resyncWrites = [...byKindAfter].map(([series, n]) => `${series} ${n - (byKindBefore.get(series) ?? 0)}`).filter((line) => !line.endsWith(' 0'));

  console.log(`command: node dist/hack/bench/operator.js ${process.argv.slice(2).join(' ')}`.trim());
  console.log(`machine: ${(await import('node:os')).cpus().length} cores; kube-apiserver ${cp.binDir}; operator workers ${values.workers}`);
  console.log('| measure | value | target |');
  console.log('|---|---:|---|');
  console.log(`| SentimentModels created | ${models} (in ${createdS.toFixed(1)} s, ${concurrency} concurrent) | |`);
  console.log(`| time from first create until all reconciled | ${convergedS.toFixed(1)} s | <= 60 s |`);
  console.log(`| API writes to converge | ${writesAtConvergence} (${(writesAtConvergence / models).toFixed(1)} per model) | |`);
  console.log(`| time until no write for 5 s (then the resync is measured) | ${quietS.toFixed(1)} s, ${quiet} writes | |`);
  const memory = await scrape(PORT);
  const mb = (name: string) => (sumMetric(memory, name) / 2 ** 20).toFixed(0);
  console.log(`| operator peak RSS | ${peakRssMb().toFixed(0)} MB (now: RSS ${mb('sentiment_operator_process_resident_memory_bytes')} MB, V8 heap used ${mb('sentiment_operator_nodejs_heap_size_used_bytes')} of ${mb('sentiment_operator_nodejs_heap_size_total_bytes')} MB, external ${mb('sentiment_operator_nodejs_external_memory_bytes')} MB) | <= 150 MB |`);
  console.log(`| reconciles during one full resync | ${reconcilesAfter - reconcilesBefore} | >= ${models} |`);
  console.log(`| API writes during that resync | ${writesAfter - writesBefore}${resyncWrites.length > 0 ? ` (${resyncWrites.join(', ')})` : ''} | 0 |`);
} finally {
  operator.kill('SIGTERM');
  await new Promise((resolve) => operator.once('exit', resolve));
  await cp.stop();
}
