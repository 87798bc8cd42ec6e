import type { FastifyPluginAsync } from 'fastify';
import { requireService } from '../context.js';
import { PLAYGROUND_HTML } from './playground-page.js';

/** The page at `/` and the model description it shows. */
export const playgroundRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PLAYGROUND_HTML));

  app.get('/v1/model', async () => {
    const { config } = app.serving;
    const service = requireService(app.serving);
    return {
      name: config.model.name,
      revision: config.model.revision,
      quantization: service.manifest.quantization,
      executionProvider: service.backend.executionProvider,
      labels: service.manifest.labels,
      maxTokens: service.classifier.maxTokens,
    };
  });
};
