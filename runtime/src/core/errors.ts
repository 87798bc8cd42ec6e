/**
 * The runtime's failure kinds. Only http/errors.ts turns them into status codes, so the core
 * stays free of HTTP and every route answers a given failure the same way.
 */
export type ErrorKind =
  | 'Validation' // malformed or unacceptable input
  | 'PayloadTooLarge' // too many texts, too long a text, input over the token limit without truncation
  | 'Overloaded' // queue full
  | 'DeadlineExceeded' // not answered within the request deadline
  | 'ClientGone' // the caller disconnected; nobody reads the answer
  | 'NotReady' // model loading or draining
  | 'NotFound'
  | 'Unauthorized' // no bearer token, or not one the runtime accepts
  | 'Backend'; // inference itself failed

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
