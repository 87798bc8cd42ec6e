import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../errors.js';
import { ProbeStatus, textResponse } from '../schemas.js';

/** Probes and metrics: cheap, never queued behind inference. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { config: { kind: 'probe' }, schema: { summary: 'Liveness', response: { 200: ProbeStatus, 503: ProbeStatus } } }, async (_request, reply) => {
    const failure = app.serving.model?.failure();
    if (failure) return reply.code(503).send({ status: 'failed', error: failure.message });
    return { status: 'ok' };
  });

  app.get('/readyz', { config: { kind: 'probe' }, schema: { summary: 'Readiness', response: { 200: ProbeStatus, 503: ProbeStatus } } }, async (_request, reply) => {
    const { lifecycle, model } = app.serving;
    if (model?.failure()) return reply.code(503).send({ status: 'failed' });
    if (!lifecycle.ready) return reply.code(503).send({ status: lifecycle.phase });
    return { status: 'ready' };
  });

  app.get('/metrics', { config: { kind: 'metrics' }, schema: { summary: 'Prometheus metrics', response: { 200: textResponse('text/plain'), ...errorResponses } } }, async (_request, reply) => {
    return reply.type(app.serving.metrics.registry.contentType).send(await app.serving.exposition());
  });
};
