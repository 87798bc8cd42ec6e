import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog, RoutedModel } from '../discovery/catalog.js';
import { fetchWhole, REQUEST_ID_HEADER, type Forwarding, type WholeAnswer } from '../forward.js';
import { reassemble, splitByLanguage, type Part } from '../language.js';
import { RouterError } from './errors.js';

type Send = (model: RoutedModel) => Promise<FastifyReply>;

/** How one of the runtime's APIs carries texts, so that a request can be split and its answers merged. */
export interface SplitApi {
  /** The texts of a body the runtime would accept as to its texts; undefined for one it would refuse. */
  texts(fields: Record<string, unknown>): string[] | undefined;
  /** The body asking for some of the texts, every other field as sent. */
  partBody(fields: Record<string, unknown>, texts: string[]): unknown;
  /** A part's answer, one result per text, or undefined for an answer not of the API's shape. */
  results(answer: unknown): unknown[] | undefined;
  /** The answer to the whole request from its parts' answers and the results in the order of the texts. */
  merge(answers: unknown[], results: unknown[]): unknown;
}

/** /v1/sentiment: `model` and `revision` list the answering models, comma separated, in the order of their first text. */
export const sentimentApi: SplitApi = {
  texts: ({ text, texts }) => {
    if (text !== undefined && texts === undefined) return typeof text === 'string' ? [text] : undefined;
    if (text === undefined && Array.isArray(texts) && texts.every((t) => typeof t === 'string')) return texts;
    return undefined;
  },
  partBody: ({ text: _one, texts: _all, ...rest }, texts) => ({ ...rest, texts }),
  results: (answer) => {
    const fields = answer as Partial<Record<string, unknown>> | null;
    return typeof fields?.model === 'string' && typeof fields.revision === 'string' && Array.isArray(fields.results) ? fields.results : undefined;
  },
  merge: (answers, results) => ({
    model: answers.map((answer) => (answer as { model: string }).model).join(','),
    revision: answers.map((answer) => (answer as { revision: string }).revision).join(','),
    results,
  }),
};

/** /predict (TEI): one text as a string, a batch as [[text], ...], answered by one ranking per text. */
export const predictApi: SplitApi = {
  texts: ({ inputs }) => {
    if (typeof inputs === 'string') return [inputs];
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((sequence) => Array.isArray(sequence) && sequence.length === 1 && typeof sequence[0] === 'string')) return undefined;
    return inputs.map((sequence) => (sequence as string[])[0]!);
  },
  partBody: (fields, texts) => ({ ...fields, inputs: texts.map((text) => [text]) }),
  results: (answer) => (Array.isArray(answer) ? answer : undefined),
  merge: (_answers, results) => results,
};

/**
 * A request for a model with language routes: each text answered by the model of its script. A
 * request whose texts all go to one model is forwarded whole to it; one that needs several is
 * split into one request per model, sent at once, and the answers put back together in the order
 * the texts came. The first part that fails fails the request with that part's answer. A body the
 * runtime would refuse is forwarded unchanged, for the runtime's message.
 */
export async function answerByLanguage(api: SplitApi, f: Forwarding, catalog: Catalog, request: FastifyRequest, reply: FastifyReply, model: RoutedModel, body: Buffer, send: Send): Promise<FastifyReply> {
  const fields = jsonObject(body);
  const texts = fields && api.texts(fields);
  if (!fields || !texts) return send(model);
  const parts = splitByLanguage(texts, model.languages);
  const targets = parts.map((part) => target(catalog, model, part));
  if (targets.length <= 1) return send(targets[0] ?? model);

  request.routedTo = model;
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.once('close', onClose);
  let answers: WholeAnswer[];
  try {
    answers = await Promise.all(parts.map((part, i) => {
      const partBody = Buffer.from(JSON.stringify(api.partBody(fields, part.indexes.map((index) => texts[index]!))));
      return fetchWhole(f, request, targets[i]!, request.url, partBody, abort.signal);
    }));
  } catch (err) {
    abort.abort();
    throw err;
  } finally {
    reply.raw.off('close', onClose);
  }
  void reply.header(REQUEST_ID_HEADER, request.id);
  const failed = answers.find((answer) => answer.statusCode !== 200);
  if (failed) {
    if (failed.contentType) void reply.type(failed.contentType);
    return reply.code(failed.statusCode).send(failed.body);
  }
  const parsed = answers.map((answer) => parseJson(answer.body));
  const results = parsed.map((answer, i) => {
    const found = api.results(answer);
    if (!found) throw new RouterError('UpstreamFailed', `model ${targets[i]!.namespace}/${targets[i]!.name} answered ${request.url} with a body that is not its API's answer`);
    return found;
  });
  return reply.send(api.merge(parsed, reassemble(texts.length, parts.map((part, i) => ({ indexes: part.indexes, results: results[i]! })))));
}

/**
 * The model a V2 request goes to, whole: the one most of its texts go to (the first such on a
 * tie). V2 answers carry one tensor per output over every text, so they are not split; a body
 * in the binary extension, or one the runtime would refuse, goes to the named model.
 */
export function v2Target(catalog: Catalog, model: RoutedModel, body: Buffer, binary: boolean): RoutedModel {
  const fields = binary ? undefined : jsonObject(body);
  const inputs = fields?.inputs;
  const data: unknown = Array.isArray(inputs) && inputs.length === 1 ? (inputs[0] as { data?: unknown } | null)?.data : undefined;
  const texts = Array.isArray(data) ? data.flat(Infinity) : [];
  if (texts.length === 0 || !texts.every((text) => typeof text === 'string')) return model;
  const parts = splitByLanguage(texts as string[], model.languages);
  const largest = parts.reduce((best, part) => (part.indexes.length > best.indexes.length ? part : best));
  return target(catalog, model, largest);
}

function target(catalog: Catalog, model: RoutedModel, part: Part): RoutedModel {
  if (part.model === undefined) return model;
  const found = catalog.get(model.namespace, part.model);
  if (!found) throw new RouterError('NotFound', `unknown model "${part.model}" (named in routing.languages of "${model.name}")`);
  return found;
}

function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  const parsed = parseJson(body);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
