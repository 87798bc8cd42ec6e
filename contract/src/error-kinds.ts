/**
 * The failure kinds the runtime answers with, as `error_type` in its `{"error", "error_type"}`
 * body. Shared because the router passes the runtime's answers through unchanged and answers its
 * own failures in the same body, with these kinds and a few of its own (router/src/http/errors.ts).
 */
export type RuntimeErrorKind =
  | 'Validation' // malformed or unacceptable input
  | 'PayloadTooLarge' // too many texts, too long a text, input over the token limit without truncation
  | 'Overloaded' // queue full
  | 'DeadlineExceeded' // not answered within the request deadline
  | 'ClientGone' // the caller disconnected; nobody reads the answer
  | 'NotReady' // model loading or draining
  | 'NotFound'
  | 'Unauthorized' // no bearer token, or not one the runtime accepts
  | 'Backend'; // inference itself failed

/** The status code of each kind: the runtime's table, which the router's extends. */
export const RUNTIME_ERROR_STATUS: Record<RuntimeErrorKind, number> = {
  Validation: 400,
  PayloadTooLarge: 413,
  Overloaded: 429,
  DeadlineExceeded: 504,
  // Nobody reads it; 499 is the de-facto "client closed request" code in access logs.
  ClientGone: 499,
  NotReady: 503,
  NotFound: 404,
  Unauthorized: 401,
  Backend: 500,
};
