import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CANARY_SERIES, CANARY_SERIES_LABELS, CANDIDATE_DURATION_BUCKETS } from '#contract/canary.js';

const PREFIX = 'sentiment_router_';
const MODEL = ['namespace', 'model'] as const;

/** Every series the router exports, on a registry of its own so tests can run several routers in one process. */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: `${PREFIX}requests_total`, help: 'Requests routed to a model, by its answer\'s status (the runtime\'s or the router\'s own).',
    labelNames: [...MODEL, 'code'], registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: `${PREFIX}request_duration_seconds`, help: 'Time from the request\'s arrival to its answer\'s headers, holding included.',
    labelNames: MODEL, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  readonly rejected = new Counter({ name: `${PREFIX}rejected_requests_total`, help: 'Requests the router answered with an error of its own, by kind.', labelNames: ['kind'], registers: [this.registry] });
  readonly upstreamErrors = new Counter({ name: `${PREFIX}upstream_errors_total`, help: 'Requests whose pod failed before answering.', labelNames: MODEL, registers: [this.registry] });
  readonly held = new Gauge({ name: `${PREFIX}held_requests`, help: 'Requests waiting for a ready replica.', labelNames: MODEL, registers: [this.registry] });
  readonly holdDuration = new Histogram({
    name: `${PREFIX}hold_duration_seconds`, help: 'How long released or timed-out requests waited for a ready replica.',
    labelNames: [...MODEL, 'outcome'], buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300], registers: [this.registry],
  });
  readonly wakes = new Counter({ name: `${PREFIX}scale_from_zero_total`, help: 'Scale-ups from zero to one replica this router asked for.', labelNames: MODEL, registers: [this.registry] });
  readonly coldStart = new Histogram({
    name: `${PREFIX}cold_start_seconds`, help: 'From this router\'s scale-from-zero write to the first ready replica.',
    labelNames: MODEL, buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600], registers: [this.registry],
  });
  /** The canary series the operator judges a step by (contract/src/canary.ts). */
  readonly canary = {
    compared: new Counter({ name: CANARY_SERIES.compared, help: 'Texts answered by both the stable revision and the candidate.', labelNames: CANARY_SERIES_LABELS, registers: [this.registry] }),
    agreeing: new Counter({ name: CANARY_SERIES.agreeing, help: 'Compared texts given the same label by both revisions.', labelNames: CANARY_SERIES_LABELS, registers: [this.registry] }),
    negative: new Counter({ name: CANARY_SERIES.negative, help: 'Compared texts labelled with the negative label, by side.', labelNames: [...CANARY_SERIES_LABELS, 'side'], registers: [this.registry] }),
    scoreSum: new Counter({ name: CANARY_SERIES.scoreSum, help: 'Sum of each class\'s score over compared texts, by side and label.', labelNames: [...CANARY_SERIES_LABELS, 'side', 'label'], registers: [this.registry] }),
    candidateRequests: new Counter({ name: CANARY_SERIES.candidateRequests, help: 'Requests sent to the candidate, by outcome (ok, error, overloaded).', labelNames: [...CANARY_SERIES_LABELS, 'outcome'], registers: [this.registry] }),
    candidateDuration: new Histogram({
      name: CANARY_SERIES.candidateDuration, help: 'Time from sending a request to the candidate to its whole answer.',
      labelNames: CANARY_SERIES_LABELS, buckets: [...CANDIDATE_DURATION_BUCKETS], registers: [this.registry],
    }),
    droppedCopies: new Counter({
      name: `${PREFIX}canary_dropped_copies_total`, help: 'Shadow copies and stable checks not sent because as many were in flight as --canary-max-copies-in-flight.',
      labelNames: MODEL, registers: [this.registry],
    }),
  };
  readonly readyEndpoints = new Gauge({ name: `${PREFIX}ready_endpoints`, help: 'Ready runtime pods per model, as the EndpointSlices list them.', labelNames: MODEL, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
