import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { RuntimeError } from '../../core/errors.js';
import { checkTexts, classifyForRequest, requireService } from '../context.js';
import { toSentimentResult } from '../present.js';

const Body = Type.Object(
  {
    text: Type.Optional(Type.Unknown()),
    texts: Type.Optional(Type.Array(Type.Unknown())),
    topK: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const Result = Type.Object({
  label: Type.String(),
  score: Type.Number(),
  scores: Type.Array(Type.Object({ label: Type.String(), score: Type.Number() })),
  truncated: Type.Boolean(),
  warnings: Type.Array(Type.String()),
});

/** The native API: one text or a list, each answered with its label, scores and warnings. */
export const sentimentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/sentiment',
    {
      schema: {
        body: Body,
        response: { 200: Type.Object({ model: Type.String(), revision: Type.String(), results: Type.Array(Result) }) },
      },
    },
    async (request, reply) => {
      const { text, texts, topK } = request.body;
      if ((text === undefined) === (texts === undefined)) throw new RuntimeError('Validation', 'give exactly one of "text" or "texts"');
      const inputs = texts ?? [text];
      checkTexts(inputs, app.serving.config);
      const service = requireService(app.serving);
      const predictions = await classifyForRequest(app.serving, request, reply, inputs);
      const labels = service.manifest.labels;
      return {
        model: app.serving.config.model.name,
        revision: app.serving.config.model.revision,
        results: predictions.map((prediction) => toSentimentResult(prediction, labels, service.classifier.maxTokens, topK)),
      };
    },
  );
};
