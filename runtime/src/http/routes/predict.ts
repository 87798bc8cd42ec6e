import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { RuntimeError } from '../../core/errors.js';
import { checkTexts, classifyForRequest, requireService } from '../context.js';
import { rankedScores } from '../present.js';

const Body = Type.Object({
  inputs: Type.Unknown(),
  truncate: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  truncation_direction: Type.Optional(Type.Union([Type.Literal('right'), Type.Literal('Right')])),
  raw_scores: Type.Optional(Type.Boolean()),
});

/**
 * Hugging Face text-embeddings-inference's /predict: "text" is one input, ["a", "b"] is a
 * sentence pair, [["a"], ["b"]] a batch; the answer is every label with its score, best first.
 */
function parseInputs(inputs: unknown): { texts: unknown[]; batch: boolean } {
  if (typeof inputs === 'string') return { texts: [inputs], batch: false };
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new RuntimeError('Validation', '"inputs" must be a string, a pair of strings or a batch [[string], ...]');
  }
  if (!Array.isArray(inputs[0])) throw new RuntimeError('Validation', 'sentence pairs are not supported: this model classifies single texts');
  const texts = inputs.map((sequence, i) => {
    if (!Array.isArray(sequence) || sequence.length === 0) throw new RuntimeError('Validation', `"inputs"[${i}] must be [string]`);
    if (sequence.length > 1) throw new RuntimeError('Validation', 'sentence pairs are not supported: this model classifies single texts');
    return sequence[0] as unknown;
  });
  return { texts, batch: true };
}

export const predictRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/predict', { schema: { body: Body } }, async (request, reply) => {
    const { texts, batch } = parseInputs(request.body.inputs);
    checkTexts(texts, app.serving.config);
    const service = requireService(app.serving);
    const predictions = await classifyForRequest(app.serving, request, reply, texts);
    if (!request.body.truncate) {
      const cut = predictions.findIndex((prediction) => prediction.truncated);
      if (cut !== -1) {
        throw new RuntimeError('PayloadTooLarge', `Input validation error: \`inputs\`[${cut}] must have at most ${service.classifier.maxTokens} tokens; set "truncate": true to cut it`);
      }
    }
    const labels = service.manifest.labels;
    const answers = predictions.map((prediction) => rankedScores(request.body.raw_scores ? prediction.logits : prediction.probabilities, labels));
    return batch ? answers : answers[0];
  });
};
