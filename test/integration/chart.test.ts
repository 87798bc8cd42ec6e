import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#contract/config-load.js';
import { renderValuesSchema, VALUES_SCHEMA_FILE } from '../../hack/gen-values-schema.js';
import { envName, FLAGS, loadConfig } from '../../operator/src/config.js';
import { envName as routerEnvName, FLAGS as ROUTER_FLAGS, loadConfig as loadRouterConfig } from '../../router/src/config.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { cpuNode, installCrds, k8sBinDir, startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { createNamespace, waitForDeploymentAvailable } from '../support/kube.js';
import { applyModel, isReady, readModel, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';
import { repoRoot, startRuntime } from '../support/runtime.js';

const chart = join(repoRoot, 'charts', 'sentiment-operator');
const bin = k8sBinDir();
const RELEASE_NAMESPACE = 'sentiment-system';
const MONITORING_API = 'monitoring.coreos.com/v1';
const MONITORING_KINDS = ['PodMonitor', 'PrometheusRule', 'ServiceMonitor'];

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };

function helm(...args: string[]): string {
  return execFileSync(join(bin, 'helm'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Renders as `helm install` would on a cluster; `monitoring` says whether it serves the Prometheus Operator's API. */
function render(valuesFile: string, ...set: string[]): Manifest[] {
  return renderFor({ monitoring: true }, valuesFile, ...set);
}

function renderFor(cluster: { monitoring: boolean }, valuesFile: string, ...set: string[]): Manifest[] {
  const apiVersions = cluster.monitoring ? ['--api-versions', MONITORING_API] : [];
  const out = helm('template', 'sentiment-operator', chart, '--namespace', RELEASE_NAMESPACE, '--values', join(chart, 'ci', valuesFile), ...apiVersions, ...set.flatMap((s) => ['--set', s]));
  return parseAllDocuments(out).map((doc) => doc.toJS() as Manifest).filter(Boolean);
}

const valuesFiles = readdirSync(join(chart, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const rules = (objects: Manifest[]) => objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').flatMap((o) => (o as unknown as { rules: Record<string, string[]>[] }).rules);

describe('Helm chart: lint, values schema, rendered objects', () => {
  it.each(valuesFiles)('lints strictly and renders with ci/%s', (file) => {
    expect(helm('lint', chart, '--strict', '--values', join(chart, 'ci', file))).toContain('0 chart(s) failed');
    expect(render(file).map((o) => o.kind)).toContain('Deployment');
  });

  it.each([
    ['image.tag=latest', "at '/image/tag': value must be 'a pinned version, or empty for appVersion; never latest, which moves under running pods'"],
    ['replicaCount=0', '/replicaCount'],
    ['alerts.negativeShare.warning=2', '/alerts/negativeShare/warning'],
    ['operatr.workers=2', 'operatr'],
  ])('values.schema.json rejects %s', (set, message) => {
    expect(() => render('default-values.yaml', set)).toThrow(message);
  });

  it('renders NetworkPolicies only when asked: the operator admits the monitoring namespace, runtime pods the named callers and it, in each watched namespace', () => {
    expect(render('default-values.yaml').map((o) => o.kind)).not.toContain('NetworkPolicy');
    const policies = render('namespaced-values.yaml').filter((o) => o.kind === 'NetworkPolicy') as (Manifest & { spec: { podSelector: unknown; ingress: { from: unknown[]; ports: unknown[] }[] } })[];
    expect(policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual([`${RELEASE_NAMESPACE}/sentiment-operator`, 'team-a/sentiment-operator-runtimes', 'team-b/sentiment-operator-runtimes']);
    const monitoring = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } };
    const [operatorPolicy, runtimePolicy] = policies;
    expect(operatorPolicy!.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'sentiment-operator', 'app.kubernetes.io/instance': 'sentiment-operator', 'app.kubernetes.io/component': 'operator' } });
    expect(operatorPolicy!.spec.ingress).toEqual([{ from: [monitoring], ports: [{ port: 'http', protocol: 'TCP' }] }]);
    // The label every runtime pod the operator creates carries (operator/src/controller/resources/names.ts).
    expect(runtimePolicy!.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/managed-by': 'sentiment-operator' } });
    const operatorPods = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': RELEASE_NAMESPACE } }, podSelector: operatorPolicy!.spec.podSelector };
    const routerPods = { namespaceSelector: operatorPods.namespaceSelector, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sentiment-operator', 'app.kubernetes.io/instance': 'sentiment-operator', 'app.kubernetes.io/component': 'router' } } };
    expect(runtimePolicy!.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { team: 'shop' } }, podSelector: { matchLabels: { app: 'checkout' } } }, monitoring, operatorPods, routerPods], ports: [{ port: 'http', protocol: 'TCP' }] }]);
    // Watching every namespace, the chart cannot place runtime policies: only the operator's is rendered.
    expect(render('all-features-values.yaml').filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name)).toEqual(['sentiment-operator']);
    expect(() => render('default-values.yaml', 'networkPolicy.runtime.allowFrom[0].everyone=true')).toThrow('/networkPolicy/runtime/allowFrom/0');
  });

  it('grants least privilege: explicit verbs and resources only, no wildcards, deletes only of what a canary\'s candidate is made of', () => {
    for (const file of valuesFiles) {
      for (const rule of rules(render(file))) {
        for (const field of ['apiGroups', 'resources', 'verbs']) expect(rule[field]).not.toContain('*');
        if (rule.verbs?.includes('delete')) expect([...(rule.resources ?? [])].sort().join()).toMatch(/^(deployments|configmaps,services)$/);
      }
    }
    const clusterWide = render('default-values.yaml').filter((o) => o.kind === 'ClusterRole');
    expect(clusterWide.map((o) => o.metadata.name).sort()).toEqual(['sentiment-operator', 'sentiment-operator-capacity', 'sentiment-operator-router']);
    const namespaced = render('namespaced-values.yaml');
    expect(namespaced.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'sentiment-system/sentiment-operator-leader-election', 'team-a/sentiment-operator', 'team-a/sentiment-operator-router', 'team-b/sentiment-operator', 'team-b/sentiment-operator-router',
    ]);
    expect(namespaced.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name)).toEqual(['sentiment-operator-capacity']);
  });

  it('a namespaced install writes only in the watched namespaces: a Role and RoleBinding each, cluster-wide reads of nodes and pods alone', () => {
    const objects = render('namespaced-values.yaml', 'watchNamespaces={shop,reviews,ops}');
    const writes = (o: Manifest) => rules([o]).filter((r) => r.verbs?.some((v) => !['get', 'list', 'watch'].includes(v)));
    const roles = objects.filter((o) => o.kind === 'Role' && o.metadata.name === 'sentiment-operator');
    expect(roles.map((o) => o.metadata.namespace)).toEqual(['shop', 'reviews', 'ops']);
    for (const role of roles) expect(writes(role).flatMap((r) => r.resources)).toEqual(expect.arrayContaining(['deployments', 'services', 'configmaps', 'poddisruptionbudgets']));
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'sentiment-operator') as unknown as { metadata: { namespace: string }; roleRef: { kind: string }; subjects: { name: string; namespace: string }[] }[];
    expect(bindings.map((b) => [b.metadata.namespace, b.roleRef.kind, b.subjects[0]?.namespace, b.subjects[0]?.name])).toEqual(
      ['shop', 'reviews', 'ops'].map((ns) => [ns, 'Role', RELEASE_NAMESPACE, 'sentiment-operator']),
    );
    const clusterWide = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');
    expect(clusterWide.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ClusterRole/sentiment-operator-capacity', 'ClusterRoleBinding/sentiment-operator-capacity']);
    expect(clusterWide.flatMap(writes)).toEqual([]);
    // The operator is told the same namespaces, so it never watches where it may not write.
    const env = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sentiment-operator')?.spec as { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
    expect(env.template.spec.containers[0]?.env?.find((e) => e.name === envName('namespaces'))?.value).toBe('shop,reviews,ops');
  });

  it('renders monitors and rules only on a cluster that serves their API, and only when enabled', () => {
    const kinds = (objects: Manifest[]) => objects.map((o) => o.kind).filter((kind) => MONITORING_KINDS.includes(kind)).sort();
    expect(kinds(renderFor({ monitoring: true }, 'all-features-values.yaml'))).toEqual(MONITORING_KINDS);
    expect(kinds(renderFor({ monitoring: false }, 'all-features-values.yaml'))).toEqual([]);
    expect(kinds(renderFor({ monitoring: true }, 'default-values.yaml'))).toEqual([]);
  });

  it("keeps the operator's own namespace label when scraped (the stuck-rollout alert and the replicas panel group by it)", () => {
    const monitor = render('all-features-values.yaml').find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { endpoints: { honorLabels?: boolean }[] } };
    expect(monitor.spec.endpoints.map((e) => e.honorLabels)).toEqual([true]);
  });

  it('runs the operator restricted, with leader election, on a pinned image', () => {
    const deployment = render('all-features-values.yaml').find((o) => o.kind === 'Deployment' && o.metadata.name === 'sentiment-operator') as unknown as {
      spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; containers: { image: string; securityContext: Record<string, unknown>; env: { name: string; value?: string }[] }[] } } };
    };
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const [container] = pod.containers;
    expect(container!.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(container!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container!.env).toContainEqual({ name: 'SENTIMENT_OPERATOR_LEADER_ELECT', value: 'true' });
  });

  /** The operator's config as the chart's Deployment sets it, in a pod named sentiment-operator-abc. */
  function operatorConfig(...args: Parameters<typeof render>) {
    const deployment = render(...args).find((o) => o.kind === 'Deployment' && o.metadata.name === 'sentiment-operator') as unknown as {
      spec: { template: { spec: { containers: { args: string[]; env: { name: string; value?: string }[] }[] } } };
    };
    const [container] = deployment.spec.template.spec.containers;
    const env = Object.fromEntries(container!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    return { env, cfg: loadConfig({ ...env, POD_NAME: 'sentiment-operator-abc', POD_NAMESPACE: RELEASE_NAMESPACE }, container!.args) };
  }

  it('configures the operator only through settings it knows, with the values given', () => {
    const { env, cfg } = operatorConfig('namespaced-values.yaml', 'operator.workers=7', 'operator.autoscaler.intervalMs=3000');
    expect(cfg).toMatchObject({ namespaces: ['team-a', 'team-b'], workers: 7, autoscaler: { intervalMs: 3000 }, http: { port: 8080 } });
    expect(cfg.leaderElection).toMatchObject({ enabled: true, namespace: RELEASE_NAMESPACE, identity: 'sentiment-operator-abc' });
    // Canary rollouts scrape the chart's own router pods.
    const router = render('namespaced-values.yaml').find((o) => o.kind === 'Deployment' && o.metadata.name === 'sentiment-operator-router') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    const routerLabels = router.spec.template.metadata.labels;
    expect(cfg.canary).toMatchObject({ routerNamespace: RELEASE_NAMESPACE, routerPort: 8080 });
    for (const term of cfg.canary.routerSelector.split(',')) expect(routerLabels).toMatchObject(Object.fromEntries([term.split('=')]));
    // Every SENTIMENT_OPERATOR_ variable the chart sets is one the operator reads.
    const known = new Set(Object.keys(FLAGS).map(envName));
    expect(Object.keys(env).filter((name) => name.startsWith('SENTIMENT_OPERATOR_') && !known.has(name))).toEqual([]);
  });

  it("defaults the operator's settings to the operator's own defaults", () => {
    expect(operatorConfig('default-values.yaml').cfg).toEqual(loadConfig({ POD_NAME: 'sentiment-operator-abc', POD_NAMESPACE: RELEASE_NAMESPACE }, []));
  });

  it("values.schema.json takes the operator's settings from OperatorConfig (run `npm run generate`)", () => {
    expect(readFileSync(join(repoRoot, VALUES_SCHEMA_FILE), 'utf8')).toBe(renderValuesSchema(repoRoot));
  });

  it.each([
    ['operator.resyncSeconds=-1', '/operator/resyncSeconds', 'resync-seconds', '-1'],
    ['operator.autoscaler.scrapeTimeoutMs=5', '/operator/autoscaler/scrapeTimeoutMs', 'autoscaler-scrape-timeout-ms', '5'],
    ['watchNamespaces={a,a}', '/watchNamespaces', 'namespaces', 'a,a'],
  ])('values.schema.json rejects %s, as the operator does', (set, path, flag, value) => {
    expect(() => render('default-values.yaml', set)).toThrow(path);
    expect(() => loadConfig({ [envName(flag)]: value }, [])).toThrow(ConfigError);
  });

  it('accepts what the operator accepts', () => {
    const { cfg } = operatorConfig('default-values.yaml', 'operator.autoscaler.persistIntervalSeconds=0', 'operator.autoscaler.scrapeTimeoutMs=10');
    expect(cfg.autoscaler).toMatchObject({ persistIntervalSeconds: 0, scrapeTimeoutMs: 10 });
  });

  it('renders the router: two restricted replicas of the operator image on its own entrypoint, a Service, and least-privilege RBAC of its own', () => {
    const objects = render('namespaced-values.yaml', 'router.hold.timeoutMs=90000');
    const router = objects.filter((o) => o.metadata.name === 'sentiment-operator-router');
    expect(router.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}`).sort()).toEqual([
      'Deployment/sentiment-system', 'PodDisruptionBudget/sentiment-system', 'Role/team-a', 'Role/team-b', 'RoleBinding/team-a', 'RoleBinding/team-b', 'Service/sentiment-system', 'ServiceAccount/sentiment-system',
    ]);
    const deployment = router.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: { image: string; command: string[]; args: string[]; securityContext: unknown; env: { name: string; value?: string }[] }[] } } };
    };
    const operator = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sentiment-operator') as unknown as typeof deployment;
    expect(deployment.spec.replicas).toBe(2);
    const [container] = deployment.spec.template.spec.containers;
    expect(container!.image).toBe(operator.spec.template.spec.containers[0]!.image);
    expect(container!.command).toEqual(['node', 'dist/router/src/main.js']);
    expect(container!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(deployment.spec.template.spec.serviceAccountName).toBe('sentiment-operator-router');
    // Configured only through settings the router knows, with the values given.
    const env = Object.fromEntries(container!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const known = new Set(Object.keys(ROUTER_FLAGS).map(routerEnvName));
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    expect(loadRouterConfig(env, container!.args)).toMatchObject({ namespaces: ['team-a', 'team-b'], hold: { timeoutMs: 90_000 }, http: { port: 8080 } });
    expect(loadRouterConfig(Object.fromEntries(Object.entries(env).filter(([name]) => name !== routerEnvName('namespaces') && name !== routerEnvName('hold-timeout-ms'))), []))
      .toEqual(loadRouterConfig({}, []));
    const rules = (router.find((o) => o.kind === 'Role') as unknown as { rules: Record<string, string[]>[] }).rules;
    expect(rules).toEqual([
      { apiGroups: ['serving.sentiment.dev'], resources: ['sentimentmodels'], verbs: ['list', 'watch'] },
      { apiGroups: ['serving.sentiment.dev'], resources: ['sentimentmodels/scale'], verbs: ['get', 'patch'] },
      { apiGroups: ['serving.sentiment.dev'], resources: ['sentimentmodels/status'], verbs: ['patch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
    ]);
    expect(() => render('default-values.yaml', 'router.hold.timeoutMs=5')).toThrow('/router/hold/timeoutMs');
    expect(render('default-values.yaml', 'router.enabled=false').filter((o) => o.metadata.name === 'sentiment-operator-router')).toEqual([]);
  });
});

describe('alerts and dashboard', () => {
  // Default thresholds: the promtool unit tests are written against them.
  const objects = render('default-values.yaml', 'alerts.enabled=true', 'dashboard.enabled=true');
  const ruleGroups = (objects.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: { groups: { rules: { expr: string }[] }[] } }).spec.groups;
  const dashboard = JSON.parse(readFileSync(join(chart, 'dashboards', 'sentiment-models.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };

  it('the dashboard ConfigMap carries the dashboard JSON', () => {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard')) as unknown as { data: Record<string, string> };
    expect(JSON.parse(configMap.data['sentiment-models.json']!)).toEqual(dashboard);
  });

  it('fills its query variables when the dashboard loads and when the time range changes, not only when clicked', () => {
    const { templating } = dashboard as unknown as { templating: { list: { name: string; type: string; refresh?: number }[] } };
    const queries = templating.list.filter((v) => v.type === 'query');
    expect(queries.map((v) => v.name)).toEqual(['namespace', 'model']);
    // 2: "On time range change", which includes the load.
    expect(queries.map((v) => v.refresh)).toEqual([2, 2]);
  });

  it('draws ratios on their own axis in percent, never on the axis of a rate or a count', () => {
    type Override = { matcher: { id: string; options: string }; properties: { id: string; value: string }[] };
    type Panel = { title: string; targets: { refId: string; expr: string }[]; fieldConfig: { defaults: { unit: string; custom?: { axisPlacement?: string } }; overrides: Override[] } };
    // A share of one series in another; a histogram's _sum / _count is a mean, not a ratio.
    const isRatio = (expr: string) => expr.includes(' / ') && !/_sum\b.* \/ .*_count\b/.test(expr);
    for (const panel of (dashboard as unknown as { panels: Panel[] }).panels) {
      const field = (refId: string, id: string, fallback: string | undefined) =>
        panel.fieldConfig.overrides.find((o) => o.matcher.id === 'byFrameRefID' && o.matcher.options === refId)?.properties.find((p) => p.id === id)?.value ?? fallback;
      const axes = new Map<string, boolean[]>();
      for (const target of panel.targets) {
        const axis = field(target.refId, 'custom.axisPlacement', panel.fieldConfig.defaults.custom?.axisPlacement ?? 'auto')!;
        axes.set(axis, [...(axes.get(axis) ?? []), isRatio(target.expr)]);
        if (isRatio(target.expr)) expect(field(target.refId, 'unit', panel.fieldConfig.defaults.unit), `${panel.title} ${target.refId}`).toBe('percentunit');
      }
      for (const [axis, ratios] of axes) expect(new Set(ratios).size, `${panel.title}: ${axis} axis`).toBe(1);
    }
  });

  it('promtool accepts the rules and their unit tests pass (tiered negative-share alerts, errors, saturation, stream lag growth, stuck rollouts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups }));
    copyFileSync(join(repoRoot, 'test', 'alerts', 'sentiment-rules.test.yaml'), join(dir, 'rules.test.yaml'));
    const promtool = (...args: string[]) => promisify(execFile)(join(bin, 'promtool'), args, { cwd: dir });
    expect((await promtool('check', 'rules', 'rules.yaml')).stdout).toContain('SUCCESS: 7 rules found');
    expect((await promtool('test', 'rules', 'rules.test.yaml')).stdout).toContain('SUCCESS');
  });

  it('every metric the dashboard and the alerts query is exported by the runtime or the operator', async () => {
    const runtime = await startRuntime();
    try {
      const exported = new Set<string>();
      for (const line of (await (await fetch(`${runtime.url}/metrics`)).text()).split('\n')) {
        const name = /^# TYPE (\S+)/.exec(line)?.[1];
        if (name) exported.add(name);
      }
      for (const metric of await new OperatorMetrics().registry.getMetricsAsJSON()) exported.add(metric.name);
      const queries = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...ruleGroups.flatMap((g) => g.rules.map((r) => r.expr))];
      const used = new Set(queries.flatMap((q) => q.match(/sentiment_(runtime|operator)_[a-z_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
      expect(used.size).toBeGreaterThan(15);
      expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});

describe('chart installed on a real control plane', () => {
  let cp: ControlPlane;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    cp = await startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1'), cpuNode('cpu-2')] });
    // Pod Security "restricted" enforced where the chart's pods and the operator's pods run.
    const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };
    await createNamespace(cp.kubeConfig, RELEASE_NAMESPACE, restricted);
    await createNamespace(cp.kubeConfig, 'demo', restricted);
  });
  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
  });

  it('helm install asks the cluster: no monitors and rules without the Prometheus Operator CRDs (the notes say so), all of them with', async () => {
    const install = (valuesFile: string) => helm('install', 'sentiment-operator', chart, '--dry-run=server', '--kubeconfig', cp.kubeconfigPath, '--namespace', RELEASE_NAMESPACE, '--values', join(chart, 'ci', valuesFile));
    const monitoringKinds = (out: string) => [...out.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]!).filter((kind) => MONITORING_KINDS.includes(kind)).sort();
    const without = install('all-features-values.yaml');
    expect(without).toContain('kind: Deployment');
    expect(monitoringKinds(without)).toEqual([]);
    expect(without).toContain('Not installed: the ServiceMonitor, PodMonitor and PrometheusRule need');
    expect(install('default-values.yaml')).not.toContain('Not installed');

    expect(await installCrds(cp.kubeconfigPath, cp.binDir, join(cp.binDir, '..', 'monitoring-crds'))).not.toEqual([]);
    const withCrds = install('all-features-values.yaml');
    expect(monitoringKinds(withCrds)).toEqual(MONITORING_KINDS);
    expect(withCrds).not.toContain('Not installed');
  });

  it('applies with server-side dry-run and for real; the operator and router pods pass Pod Security restricted', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'chart-')), 'rendered.yaml');
    writeFileSync(file, render('all-features-values.yaml').map((o) => stringify(o)).join('---\n'));
    const kubectl = (...args: string[]) => promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]);
    const dryRun = await kubectl('apply', '--server-side', '--dry-run=server', '--field-manager=helm', '-f', file);
    expect(dryRun.stdout).toContain('deployment.apps/sentiment-operator serverside-applied (server dry run)');
    const applied = await kubectl('apply', '--server-side', '--field-manager=helm', '-f', file);
    expect(applied.stderr).not.toContain('Warning');
    for (const kind of ['networkpolicy.networking.k8s.io/sentiment-operator', 'prometheusrule.monitoring.coreos.com/sentiment-operator', 'podmonitor.monitoring.coreos.com/sentiment-operator-runtimes', 'servicemonitor.monitoring.coreos.com/sentiment-operator']) {
      expect(applied.stdout).toContain(kind);
    }
    await waitForDeploymentAvailable(cp.kubeConfig, RELEASE_NAMESPACE, 'sentiment-operator', 2);
    await waitForDeploymentAvailable(cp.kubeConfig, RELEASE_NAMESPACE, 'sentiment-operator-router', 2);
  });

  it('an operator with exactly the chart\'s RBAC reconciles a model to Ready in a restricted namespace', async () => {
    const serviceAccount = await cp.serviceAccountKubeConfig(RELEASE_NAMESPACE, 'sentiment-operator');
    operator = await startOperator(serviceAccount, { leaderElection: { namespace: RELEASE_NAMESPACE } });
    await applyModel(cp.kubeConfig, 'demo', 'reviews', { replicas: 2 });
    const model = await waitForModel(cp.kubeConfig, 'demo', 'reviews', (m) => isReady(m) && m.status?.readyReplicas === 2, 60_000);
    expect(model.status?.endpoint).toBe('http://reviews.demo.svc.cluster.local');
    expect(await operator.metric('sentiment_operator_reconcile_errors_total')).toBe(0);
  });

  it('a namespaced install: its operator reconciles the watched namespaces, ignores a model elsewhere and may write nowhere else', async () => {
    // Stop the cluster-wide operator of the test before, which would reconcile every namespace.
    await operator?.stop();
    operator = undefined;
    const [release, releaseNs] = ['scoped', 'scoped-system'];
    for (const ns of [releaseNs, 'team-a', 'team-b', 'elsewhere']) await createNamespace(cp.kubeConfig, ns);
    const rbacKinds = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
    const out = helm('template', release, chart, '--namespace', releaseNs, '--set', 'watchNamespaces={team-a,team-b}');
    const rbac = parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter((o) => o && rbacKinds.includes(o.kind));
    const file = join(mkdtempSync(join(tmpdir(), 'chart-')), 'rbac.yaml');
    writeFileSync(file, rbac.map((o) => stringify(o)).join('---\n'));
    const kubectl = (...args: string[]) => promisify(execFile)(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]).then((r) => r.stdout.trim(), (e: { stdout?: string }) => e.stdout?.trim() ?? '');
    await kubectl('apply', '--server-side', '--field-manager=helm', '-f', file);
    const serviceAccount = `system:serviceaccount:${releaseNs}:${release}-sentiment-operator`;
    for (const ns of ['kube-system', 'default', 'elsewhere']) {
      for (const resource of ['deployments', 'services', 'configmaps']) expect(await kubectl('auth', 'can-i', 'patch', resource, '-n', ns, `--as=${serviceAccount}`), `${resource} in ${ns}`).toBe('no');
    }
    expect(await kubectl('auth', 'can-i', 'patch', 'deployments', '-n', 'team-b', `--as=${serviceAccount}`)).toBe('yes');

    const scoped = await startOperator(await cp.serviceAccountKubeConfig(releaseNs, `${release}-sentiment-operator`), {
      namespaces: ['team-a', 'team-b'], leaderElection: { namespace: releaseNs },
    });
    try {
      await applyModel(cp.kubeConfig, 'elsewhere', 'ignored');
      await applyModel(cp.kubeConfig, 'team-a', 'watched');
      await waitForModel(cp.kubeConfig, 'team-a', 'watched', isReady, 60_000);
      // The watched model's reconcile came after the other was created: had the operator seen it, it would have acted by now.
      await new Promise((r) => setTimeout(r, 2000));
      expect((await readModel(cp.kubeConfig, 'elsewhere', 'ignored'))?.status).toBeUndefined();
      expect(await kubectl('get', 'deployments,services,configmaps', '-n', 'elsewhere', '-l', 'app.kubernetes.io/managed-by=sentiment-operator', '-o', 'name')).toBe('');
      expect(await scoped.metric('sentiment_operator_cached_objects', { cache: 'models' })).toBe(1);
      expect(await scoped.metric('sentiment_operator_reconcile_errors_total')).toBe(0);
    } finally {
      await scoped.stop();
    }
  });
});
