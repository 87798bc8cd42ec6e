import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { RuntimeError } from '../../core/errors.js';
import { classifyForRequest, requireModel } from '../context.js';
import { errorResponses } from '../errors.js';
import { rankedScores } from '../present.js';
import { LabelScore } from '../schemas.js';
import { checkTexts } from '../validate.js';

const Body = Type.Object({
  inputs: Type.Unknown({ description: '"text" for one input, [["a"], ["b"]] for a batch; sentence pairs ["a", "b"] are refused.' }),
  truncate: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Cut inputs over the token limit instead of refusing them (413).' })),
  truncation_direction: Type.Optional(Type.Union([Type.Literal('right'), Type.Literal('Right')])),
  raw_scores: Type.Optional(Type.Boolean({ description: 'Scores are logits instead of probabilities.' })),
});

const Ranked = Type.Array(LabelScore, { description: 'Every label, best first.' });
const Response = Type.Union([Ranked, Type.Array(Ranked, { description: 'One ranking per input of a batch.' })]);

/**
 * Hugging Face text-embeddings-inference's /predict: "text" is one input, ["a", "b"] is a
 * sentence pair, [["a"], ["b"]] a batch; the answer is every label with its score, best first.
 */
function parseInputs(inputs: unknown): { texts: unknown[]; batch: boolean } {
  if (typeof inputs === 'string') return { texts: [inputs], batch: false };
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new RuntimeError('Validation', '"inputs" must be a string, a pair of strings or a batch [[string], ...]');
  }
  if (typeof inputs[0] === 'string') throw new RuntimeError('Validation', 'sentence pairs are not supported: this model classifies single texts');
  const texts = inputs.map((sequence, i) => {
    if (!Array.isArray(sequence) || sequence.length === 0) throw new RuntimeError('Validation', `"inputs"[${i}] must be [string]`);
    if (sequence.length > 1) throw new RuntimeError('Validation', 'sentence pairs are not supported: this model classifies single texts');
    return sequence[0] as unknown;
  });
  return { texts, batch: true };
}

export const predictRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/predict', { config: { kind: 'inference' }, schema: { summary: 'Classify (text-embeddings-inference API)', body: Body, response: { 200: Response, ...errorResponses } } }, async (request, reply) => {
    const { texts, batch } = parseInputs(request.body.inputs);
    checkTexts(texts, app.serving.config);
    const { info } = requireModel(app.serving);
    const predictions = await classifyForRequest(app.serving, request, reply, texts);
    if (!request.body.truncate) {
      const cut = predictions.findIndex((prediction) => prediction.truncated);
      if (cut !== -1) {
        throw new RuntimeError('PayloadTooLarge', `Input validation error: \`inputs\`[${cut}] must have at most ${info.maxTokens} tokens; set "truncate": true to cut it`);
      }
    }
    const answers = predictions.map((prediction) => rankedScores(request.body.raw_scores ? prediction.logits : prediction.probabilities, info.labels));
    return batch ? answers : answers[0]!;
  });
};
