import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import Type, { type Static } from 'typebox';
import { RUNTIME_ERROR_STATUS } from '#contract/error-kinds.js';
import { RuntimeError, type ErrorKind } from '../core/errors.js';
import type { RuntimeMetrics } from '../metrics.js';

/** The one place that chooses status codes (the table is in contract/, which the router extends). The body shape serves TEI and V2 clients alike. */
const STATUS: Record<ErrorKind, number> = RUNTIME_ERROR_STATUS;

export const ERROR_KINDS = Object.keys(STATUS) as ErrorKind[];

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'What was wrong, for a person to read.' }),
  error_type: Type.Unsafe<ErrorKind>({ type: 'string', enum: ERROR_KINDS }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** Every route's failure answers, whichever status the table above chose, in its response schema. */
export const errorResponses = { '4xx': ErrorBody, '5xx': ErrorBody };

export function sendError(reply: FastifyReply, error: RuntimeError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  // RFC 6750: a 401 names the scheme the client should use.
  if (error.kind === 'Unauthorized') void reply.header('www-authenticate', 'Bearer realm="sentiment-runtime"');
  return reply.code(STATUS[error.kind]).send({ error: error.message, error_type: error.kind } satisfies ErrorBody);
}

/**
 * Maps fastify's own failures (parsing, schema validation, body limit) onto our kinds. Anything
 * else is a bug: the client gets the request id to quote, never the exception's text.
 */
function fromFastify(error: FastifyError, requestId: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  if (error.validation) return new RuntimeError('Validation', `invalid request: ${error.message}`);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RuntimeError('PayloadTooLarge', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RuntimeError('Validation', `unsupported content type: ${error.message}`);
    default:
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return new RuntimeError('Validation', error.message);
      }
      return new RuntimeError('Backend', `internal error (request id ${requestId})`);
  }
}

export function registerErrorHandling(app: FastifyInstance, metrics: RuntimeMetrics): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = fromFastify(error, request.id);
    metrics.rejected.inc({ kind: mapped.kind });
    if (mapped.kind === 'Backend') request.log.error({ err: error }, 'request failed');
    return sendError(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new RuntimeError('NotFound', `no route ${request.method} ${request.url}`)));
}
