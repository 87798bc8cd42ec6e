import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/**
 * GET /openapi.json: every route registered after this, described from the same schemas that
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
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
