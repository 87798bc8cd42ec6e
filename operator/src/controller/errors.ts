import { ApiError } from '../kube/client.js';

export { isConflict, isNotFound } from '../kube/client.js';

/** The apiserver's own message ("HTTP 422: Deployment.apps "x" is invalid: ..."), or any other error's. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** For log fields: an API error is the cluster's answer and needs no stack; anything else may be a bug and keeps it. */
export const loggable = (err: unknown): unknown => (err instanceof ApiError ? err.message : err);
