// Response bodies shared between routes (and their TypeScript types); each route's request
// schema sits with the route, the error body with the error table.
import Type, { type Static } from 'typebox';

export const LabelScore = Type.Object({
  label: Type.String(),
  score: Type.Number({ description: 'Probability of the label, or its logit where raw scores were asked for.' }),
});
export type LabelScore = Static<typeof LabelScore>;

export const SentimentResult = Type.Object({
  label: Type.String({ description: 'The most probable label.' }),
  score: Type.Number({ description: 'Its probability.' }),
  scores: Type.Array(LabelScore, { description: 'Every label (or the top k), best first.' }),
  truncated: Type.Boolean({ description: 'The text had more tokens than the model reads and was cut.' }),
  warnings: Type.Array(Type.String()),
});
export type SentimentResult = Static<typeof SentimentResult>;

/** Probe answers: "ok"/"ready", or why not ("loading", "draining", "failed"). */
export const ProbeStatus = Type.Object({ status: Type.String(), error: Type.Optional(Type.String()) });

/** Plain-text bodies (the page, the metrics), described for the OpenAPI document only. */
export const textResponse = (mediaType: string) => ({ content: { [mediaType]: { schema: Type.String() } } });
