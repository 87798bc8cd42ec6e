import type { RuntimeErrorKind } from '#contract/error-kinds.js';

/**
 * The runtime's failure kinds (listed in contract/, which the router shares). Only
 * http/errors.ts turns them into status codes, so the core stays free of HTTP and every route
 * answers a given failure the same way.
 */
export type ErrorKind = RuntimeErrorKind;

export class RuntimeError extends Error {
  override name = 'RuntimeError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Seconds a client should wait before retrying (Overloaded, NotReady). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
