import { ApiException } from '@kubernetes/client-node';

export const isConflict = (err: unknown): boolean => err instanceof ApiException && err.code === 409;
export const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;

/** The apiserver's own message ("HTTP 422: Deployment.apps "x" is invalid: ..."), not client-node's dump of headers and body. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return `HTTP ${err.code}: ${body}`;
      }
    }
    return `HTTP ${err.code}: ${(body as { message?: string } | undefined)?.message ?? ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** For log fields: an API error is the cluster's answer and needs no stack; anything else may be a bug and keeps it. */
export const loggable = (err: unknown): unknown => (err instanceof ApiException ? errorMessage(err) : err);
