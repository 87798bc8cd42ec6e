import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/**
 * Collects every route registered after it into an OpenAPI document, from the same schemas that
 * validate requests and serialize responses, so the document cannot drift from what is served.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sentiment-runtime',
        description: 'Sentiment classification: the native API (/v1), text-embeddings-inference\'s /predict, KServe\'s Open Inference Protocol (/v2), probes and metrics.',
        // The HTTP API's version, as in its /v1 paths, not the package's.
        version: '1',
      },
    },
  });
}

export const openApiRoutes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
