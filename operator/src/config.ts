import { hostname } from 'node:os';
import Type, { type Static } from 'typebox';
import { readFlagsAndEnv, validateSettings } from '#contract/config-load.js';

const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const LevelNames = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const OperatorConfig = Type.Object(
  {
    namespaces: Type.Array(Type.String({ maxLength: 63, pattern: DNS1123_LABEL }), { uniqueItems: true, default: [], description: 'Namespaces to watch; empty watches all.' }),
    workers: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'Models reconciled at once.' }),
    resyncSeconds: Type.Number({ minimum: 0, maximum: 86_400, default: 600, description: 'Period of the full resync; 0 turns it off.' }),
    backoff: Type.Object(
      { baseDelayMs: Type.Integer({ minimum: 1, default: 250 }), maxDelayMs: Type.Integer({ minimum: 1, default: 60_000 }) },
      { default: {}, description: 'Retry delay of a failing model: baseDelayMs doubling up to maxDelayMs.' },
    ),
    leaderElection: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        namespace: Type.String({ maxLength: 63, pattern: DNS1123_LABEL, default: 'sentiment-system' }),
        leaseName: Type.String({ maxLength: 253, pattern: DNS1123_LABEL, default: 'sentiment-operator' }),
        identity: Type.String({ minLength: 1, maxLength: 128, description: 'Unique per instance; defaults to the pod name or host_pid.' }),
        leaseDurationMs: Type.Integer({ minimum: 1000, default: 15_000 }),
        renewDeadlineMs: Type.Integer({ minimum: 1, default: 10_000 }),
        retryPeriodMs: Type.Integer({ minimum: 1, default: 2_000 }),
      },
      { default: {} },
    ),
    http: Type.Object(
      { host: Type.String({ default: '0.0.0.0' }), port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080, description: '0 picks a free port.' }) },
      { default: {}, description: 'Serves /healthz, /readyz and /metrics.' },
    ),
    cluster: Type.Object(
      {
        imageVolumes: Type.Boolean({ default: false, description: 'Mount model images as image volumes instead of copying them in an init container.' }),
        clusterDomain: Type.String({ minLength: 1, default: 'cluster.local' }),
      },
      { default: {} },
    ),
    autoscaler: Type.Object(
      {
        intervalMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000, description: 'How often the builtin autoscaler scrapes the runtime pods and decides.' }),
        scrapeTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: 'Limit for one pod\'s /metrics; a pod slower than this counts as at target.' }),
        persistIntervalSeconds: Type.Number({
          minimum: 0, maximum: 3600, default: 30,
          description: 'Least time between status writes that only refresh the observed value and windows; decision changes are written at once.',
        }),
      },
      { default: {} },
    ),
    canary: Type.Object(
      {
        routerNamespace: Type.String({ maxLength: 63, pattern: DNS1123_LABEL, default: 'sentiment-system', description: 'Namespace of the router pods whose /metrics hold the canary figures.' }),
        routerSelector: Type.String({
          maxLength: 1024,
          default: 'app.kubernetes.io/name=sentiment-operator,app.kubernetes.io/instance=sentiment-operator,app.kubernetes.io/component=router',
          description: 'Label selector of the router pods (the default is the chart\'s, released as sentiment-operator).',
        }),
        routerPort: Type.Integer({ minimum: 1, maximum: 65_535, default: 8080, description: 'Port of the routers\' /metrics.' }),
        scrapeTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: 'Limit for one router\'s /metrics; a step waits while a router does not answer.' }),
      },
      { default: {}, description: 'Where canary rollouts read the routers\' comparison of candidate and stable answers.' },
    ),
    logLevel: Type.Enum(LevelNames, { type: 'string', default: 'info' }),
  },
  { additionalProperties: false },
);

export type OperatorConfig = Static<typeof OperatorConfig>;

/** Fills defaults and rejects an invalid config with every problem in one message. */
export function defaultAndValidate(input: unknown): OperatorConfig {
  return validateSettings(OperatorConfig, input, ({ leaderElection: le, backoff, autoscaler }) => {
    const problems: string[] = [];
    // client-go's rule: the leader must give up before anyone else may take over, and retry in between.
    if (le.renewDeadlineMs >= le.leaseDurationMs) problems.push('leaderElection.renewDeadlineMs must be below leaderElection.leaseDurationMs');
    if (le.retryPeriodMs >= le.renewDeadlineMs) problems.push('leaderElection.retryPeriodMs must be below leaderElection.renewDeadlineMs');
    if (backoff.baseDelayMs > backoff.maxDelayMs) problems.push('backoff.baseDelayMs must not exceed backoff.maxDelayMs');
    // A scrape that may outlast the tick would let one hung pod delay every model's decision.
    if (autoscaler.scrapeTimeoutMs > autoscaler.intervalMs) problems.push('autoscaler.scrapeTimeoutMs must not exceed autoscaler.intervalMs');
    return problems;
  });
}

/** Each flag sets one config path; its environment variable is SENTIMENT_OPERATOR_<FLAG_IN_SNAKE_CASE>. */
export const FLAGS: Record<string, string[]> = {
  namespaces: ['namespaces'],
  workers: ['workers'],
  'resync-seconds': ['resyncSeconds'],
  'backoff-base-delay-ms': ['backoff', 'baseDelayMs'],
  'backoff-max-delay-ms': ['backoff', 'maxDelayMs'],
  'leader-elect': ['leaderElection', 'enabled'],
  'leader-election-namespace': ['leaderElection', 'namespace'],
  'leader-election-lease': ['leaderElection', 'leaseName'],
  'leader-election-identity': ['leaderElection', 'identity'],
  'lease-duration-ms': ['leaderElection', 'leaseDurationMs'],
  'renew-deadline-ms': ['leaderElection', 'renewDeadlineMs'],
  'retry-period-ms': ['leaderElection', 'retryPeriodMs'],
  'http-host': ['http', 'host'],
  'http-port': ['http', 'port'],
  'image-volumes': ['cluster', 'imageVolumes'],
  'cluster-domain': ['cluster', 'clusterDomain'],
  'autoscaler-interval-ms': ['autoscaler', 'intervalMs'],
  'autoscaler-scrape-timeout-ms': ['autoscaler', 'scrapeTimeoutMs'],
  'autoscaler-persist-interval-seconds': ['autoscaler', 'persistIntervalSeconds'],
  'canary-router-namespace': ['canary', 'routerNamespace'],
  'canary-router-selector': ['canary', 'routerSelector'],
  'canary-router-port': ['canary', 'routerPort'],
  'canary-scrape-timeout-ms': ['canary', 'scrapeTimeoutMs'],
  'log-level': ['logLevel'],
};

export const envName = (flag: string) => `SENTIMENT_OPERATOR_${flag.toUpperCase().replaceAll('-', '_')}`;

/**
 * Defaults <- environment <- flags. In a pod, POD_NAMESPACE and POD_NAME (from the downward API)
 * place the lease beside the operator and name this instance.
 */
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): OperatorConfig {
  const input: Record<string, unknown> = {
    leaderElection: {
      identity: env.POD_NAME ?? `${hostname()}_${process.pid}`,
      ...(env.POD_NAMESPACE ? { namespace: env.POD_NAMESPACE } : {}),
    },
  };
  readFlagsAndEnv(input, OperatorConfig, FLAGS, envName, env, argv);
  return defaultAndValidate(input);
}
