import Type, { type Static } from 'typebox';
import { readFlagsAndEnv, validateSettings } from '#contract/config-load.js';

const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const LevelNames = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const RouterConfig = Type.Object(
  {
    namespaces: Type.Array(Type.String({ maxLength: 63, pattern: DNS1123_LABEL }), { uniqueItems: true, default: [], description: 'Namespaces whose SentimentModels it serves; empty serves all.' }),
    http: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080, description: '0 picks a free port.' }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 104_857_600, default: 1_048_576, description: 'Largest body read to find a JSON "model" field; bodies routed by path or header stream through unread.' }),
      },
      { default: {} },
    ),
    hold: Type.Object(
      {
        timeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000, description: 'How long a request waits for a ready replica (a scale from zero, a restart) before 503.' }),
        maxRequests: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1000, description: 'Requests held per model at once; beyond it 429.' }),
      },
      { default: {}, description: 'Requests for a model without a ready replica wait, bounded in count and time.' },
    ),
    upstream: Type.Object(
      {
        connectionsPerPod: Type.Integer({ minimum: 1, maximum: 10_000, default: 64, description: 'Keep-alive connections to one runtime pod.' }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000, description: 'Limit for a pod to send its answer\'s headers, and between body chunks.' }),
      },
      { default: {} },
    ),
    drain: Type.Object(
      {
        delayMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5000, description: 'After SIGTERM: unready at once, still serving this long so endpoints update.' }),
        timeoutMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000, description: 'Hard limit for the whole drain (then exit 1).' }),
      },
      { default: {} },
    ),
    canary: Type.Object(
      {
        maxCopiesInFlight: Type.Integer({ minimum: 0, maximum: 100_000, default: 64, description: 'Canary copies (shadow copies to the candidate, background checks against stable) in flight at once; over it a copy is dropped and counted, never queued.' }),
      },
      { default: {} },
    ),
    logLevel: Type.Enum(LevelNames, { type: 'string', default: 'info' }),
  },
  { additionalProperties: false },
);

export type RouterConfig = Static<typeof RouterConfig>;

export function defaultAndValidate(input: unknown): RouterConfig {
  return validateSettings(RouterConfig, input);
}

/** Each flag sets one config path; its environment variable is SENTIMENT_ROUTER_<FLAG_IN_SNAKE_CASE>. */
export const FLAGS: Record<string, string[]> = {
  namespaces: ['namespaces'],
  'http-host': ['http', 'host'],
  'http-port': ['http', 'port'],
  'body-limit-bytes': ['http', 'bodyLimitBytes'],
  'hold-timeout-ms': ['hold', 'timeoutMs'],
  'hold-max-requests': ['hold', 'maxRequests'],
  'upstream-connections-per-pod': ['upstream', 'connectionsPerPod'],
  'upstream-timeout-ms': ['upstream', 'timeoutMs'],
  'drain-delay-ms': ['drain', 'delayMs'],
  'drain-timeout-ms': ['drain', 'timeoutMs'],
  'canary-max-copies-in-flight': ['canary', 'maxCopiesInFlight'],
  'log-level': ['logLevel'],
};

export const envName = (flag: string) => `SENTIMENT_ROUTER_${flag.toUpperCase().replaceAll('-', '_')}`;

/** Defaults <- environment <- flags, as the operator reads its own. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): RouterConfig {
  const input: Record<string, unknown> = {};
  readFlagsAndEnv(input, RouterConfig, FLAGS, envName, env, argv);
  return defaultAndValidate(input);
}
