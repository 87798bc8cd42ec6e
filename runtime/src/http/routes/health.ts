import type { FastifyPluginAsync } from 'fastify';

/** Probes and metrics: cheap, never queued behind inference. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async (_request, reply) => {
    const failure = app.serving.service?.failure();
    if (failure) return reply.code(503).send({ status: 'failed', error: failure.message });
    return { status: 'ok' };
  });

  app.get('/readyz', async (_request, reply) => {
    const { lifecycle, service } = app.serving;
    if (service?.failure()) return reply.code(503).send({ status: 'failed' });
    if (!lifecycle.ready) return reply.code(503).send({ status: lifecycle.phase });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(app.serving.metrics.registry.contentType).send(await app.serving.exposition());
  });
};
