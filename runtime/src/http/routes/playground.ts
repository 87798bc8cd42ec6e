import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { requireModel } from '../context.js';
import { errorResponses } from '../errors.js';
import { textResponse } from '../schemas.js';
import { PLAYGROUND_HTML } from './playground-page.js';

const ModelDescription = Type.Object({
  name: Type.String(),
  revision: Type.String(),
  quantization: Type.String(),
  executionProvider: Type.String({ description: 'The provider that runs the model, after any fallback to cpu.' }),
  labels: Type.Array(Type.String(), { description: 'Class names in the model\'s order.' }),
  maxTokens: Type.Integer({ description: 'Tokens per text beyond which it is truncated.' }),
  languages: Type.Array(Type.String(), { description: 'Languages the model declares (config.json "language"), as BCP 47 tags; often none.' }),
  scripts: Type.Array(Type.String(), {
    description: 'Writing systems the model reads (ISO 15924, e.g. Latn, Hani): those of its declared languages, else the one most of its vocabulary is in. A text mostly in another gets a warning.',
  }),
  serving: Type.Object({
    sessions: Type.Integer({ description: 'Inference sessions (worker threads) in this serving process.' }),
    intraOpThreads: Type.Integer({ description: 'onnxruntime threads per session.' }),
    maxBatchSize: Type.Integer({ description: 'Upper bound on texts per batch (batching.maxBatchSize).' }),
    preferredBatchSize: Type.Integer({ description: 'The batch size measured to serve the most texts per second within the latency budget on this pod; batches are cut at it.' }),
    paddingAllowanceTokens: Type.Union([Type.Number(), Type.Null()], {
      description: 'Padding tokens one more text may bring into a batch: the per-batch overhead measured on this pod, in tokens; null while unlimited (not yet measured, or padding costs nothing here).',
    }),
  }),
});

/** The page at `/` (unless `page` is false: server.playground) and the model description it shows. */
export const playgroundRoutes: FastifyPluginAsyncTypebox<{ page: boolean }> = async (app, { page }) => {
  if (page) {
    app.get('/', { schema: { summary: 'The playground page', response: { 200: textResponse('text/html'), ...errorResponses } } }, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(PLAYGROUND_HTML),
    );
  }

  app.get('/v1/model', { schema: { summary: 'The served model', response: { 200: ModelDescription, ...errorResponses } } }, async () => {
    const { config } = app.serving;
    const { info } = requireModel(app.serving);
    return {
      name: config.model.name,
      revision: config.model.revision,
      quantization: info.quantization,
      executionProvider: info.executionProvider,
      labels: info.labels,
      maxTokens: info.maxTokens,
      ...info.language,
      serving: { ...info.serving },
    };
  });
};
