import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { RuntimeError } from '../../core/errors.js';
import { classifyForRequest, requireModel } from '../context.js';
import { errorResponses } from '../errors.js';
import { toSentimentResult } from '../present.js';
import { SentimentResult } from '../schemas.js';
import { checkTexts } from '../validate.js';

// Texts are Unknown here so that a wrong one gets checkTexts' message, which names its index.
const Body = Type.Object(
  {
    text: Type.Optional(Type.Unknown({ description: 'One text (a string); give this or "texts".' })),
    texts: Type.Optional(Type.Array(Type.Unknown(), { description: 'Several texts (strings), answered in order.' })),
    topK: Type.Optional(Type.Integer({ minimum: 1, description: 'Return only the k best labels in "scores".' })),
  },
  { additionalProperties: false },
);

const Response = Type.Object({ model: Type.String(), revision: Type.String(), results: Type.Array(SentimentResult) });

/** The native API: one text or a list, each answered with its label, scores and warnings. */
export const sentimentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/v1/sentiment', { config: { kind: 'inference' }, schema: { summary: 'Classify one text or a list', body: Body, response: { 200: Response, ...errorResponses } } }, async (request, reply) => {
    const { text, texts, topK } = request.body;
    if ((text === undefined) === (texts === undefined)) throw new RuntimeError('Validation', 'give exactly one of "text" or "texts"');
    const inputs = texts ?? [text];
    checkTexts(inputs, app.serving.config);
    const { info } = requireModel(app.serving);
    const predictions = await classifyForRequest(app.serving, request, reply, inputs);
    return {
      model: app.serving.config.model.name,
      revision: app.serving.config.model.revision,
      results: predictions.map((prediction, i) => toSentimentResult(inputs[i]!, prediction, info, topK)),
    };
  });
};
