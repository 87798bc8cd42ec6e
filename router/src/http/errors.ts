import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { RUNTIME_ERROR_STATUS, type RuntimeErrorKind } from '#contract/error-kinds.js';
import type { RouterMetrics } from '../metrics.js';

/**
 * The runtime's error table, extended with what only routing can fail at. The runtime's own
 * answers (its 400s, 429s, 504s) pass through unchanged; these are the router's.
 */
export type RouterErrorKind =
  | RuntimeErrorKind
  // The model has no ready replica and none became ready within the hold timeout (a scale from zero, a crash loop).
  | 'NoReadyReplica'
  // The pod chosen failed before answering (connection refused or reset, no headers in time).
  | 'UpstreamFailed';

const STATUS: Record<RouterErrorKind, number> = { ...RUNTIME_ERROR_STATUS, NoReadyReplica: 503, UpstreamFailed: 502 };

export class RouterError extends Error {
  override name = 'RouterError';
  constructor(readonly kind: RouterErrorKind, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

export function sendError(reply: FastifyReply, error: RouterError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.code(STATUS[error.kind]).send({ error: error.message, error_type: error.kind });
}

/** Fastify's own failures (body limit, bad JSON while looking for the model field) onto the kinds; anything else is a bug. */
function fromFastify(error: FastifyError, requestId: string): RouterError {
  if (error instanceof RouterError) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new RouterError('PayloadTooLarge', 'request body is too large');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new RouterError('Validation', error.message);
  return new RouterError('Backend', `internal error (request id ${requestId})`);
}

export function registerErrorHandling(app: FastifyInstance, metrics: RouterMetrics): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = fromFastify(error, request.id);
    metrics.rejected.inc({ kind: mapped.kind });
    if (mapped.kind === 'Backend') request.log.error({ err: error }, 'request failed');
    return sendError(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new RouterError('NotFound', `no route ${request.method} ${request.url}`)));
}
