/** metav1.Status, the body of every failed call and of a watch's ERROR event. */
export interface Status {
  code?: number;
  reason?: string;
  message?: string;
}

/** The apiserver said no; `code` is the HTTP status (a watch's ERROR event carries one too). */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(readonly code: number, readonly status: Status | undefined, detail: string) {
    super(`HTTP ${code}: ${detail}`);
  }
}

/** Thrown instead of writing once this instance is no longer the leader. */
export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError';
}

/** What a failed call means to its caller; classify() is the one place that tells them apart. */
export const Failure = {
  /** This instance's leadership term is over and the write was refused: stop, quietly. */
  LeadershipLost: 'LeadershipLost',
  /** 409: written from a stale read, or another writer came first: read again and retry, quietly. */
  Conflict: 'Conflict',
  /** 404: the object is gone. */
  NotFound: 'NotFound',
  /** 410: the resourceVersion asked for is older than the apiserver keeps: list again. */
  Gone: 'Gone',
  /** Any other 4xx but 408 and 429 (validation, admission, quota, RBAC): the apiserver says no until someone changes something. */
  Refused: 'Refused',
  /** No apiserver answered (connection refused, reset or timed out; a 502/503/504 from the way to it): it fails every call alike. */
  Unreachable: 'Unreachable',
  /** Anything else (5xx, 408, 429, no answer): may pass by itself; someone may have to act on it. */
  Other: 'Other',
} as const;
export type Failure = (typeof Failure)[keyof typeof Failure];

const BY_CODE: Record<number, Failure> = { 404: Failure.NotFound, 409: Failure.Conflict, 410: Failure.Gone };

const TRANSIENT_4XX = new Set([408, 429]);
/** Answers from whatever stands between the operator and an apiserver that is not there. */
const GATEWAY_CODES = new Set([502, 503, 504]);
const NO_ANSWER_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);

export function classify(err: unknown): Failure {
  if (err instanceof LeadershipLostError) return Failure.LeadershipLost;
  if (!(err instanceof ApiError)) {
    const noAnswer = err instanceof Error && (NO_ANSWER_CODES.has((err as NodeJS.ErrnoException).code ?? '') || err.name === 'TimeoutError');
    return noAnswer ? Failure.Unreachable : Failure.Other;
  }
  if (GATEWAY_CODES.has(err.code)) return Failure.Unreachable;
  const known = BY_CODE[err.code];
  if (known) return known;
  return err.code >= 400 && err.code < 500 && !TRANSIENT_4XX.has(err.code) ? Failure.Refused : Failure.Other;
}

/** The apiserver's own message ("HTTP 422: Deployment.apps "x" is invalid: ..."), or any other error's. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** For log fields: an API error is the cluster's answer and needs no stack; anything else may be a bug and keeps it. */
export const loggable = (err: unknown): unknown => (err instanceof ApiError ? err.message : err);
