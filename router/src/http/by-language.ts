import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog, RoutedModel } from '../discovery/catalog.js';
import { fetchWhole, REQUEST_ID_HEADER, type Forwarding, type WholeAnswer } from '../forward.js';
import { reassemble, splitByLanguage, type Part } from '../language.js';
import { RouterError } from './errors.js';

/** The runtime's /v1/sentiment answer, as far as reassembling it needs. */
interface SentimentAnswer {
  model: string;
  revision: string;
  results: unknown[];
}

type Send = (model: RoutedModel) => Promise<FastifyReply>;

/**
 * A /v1/sentiment request for a model with language routes: each text answered by the model of
 * its script. A request whose texts all go to one model is forwarded whole to it; one that needs
 * several is split into one request per model, sent at once, and the answers put back together
 * in the order the texts came (`model` and `revision` then list the answering models, comma
 * separated, in the order of their first text). The first part that fails fails the request with
 * that part's answer. A body the runtime would refuse is forwarded unchanged for its message.
 */
export async function answerByLanguage(f: Forwarding, catalog: Catalog, request: FastifyRequest, reply: FastifyReply, model: RoutedModel, body: Buffer, send: Send): Promise<FastifyReply> {
  const fields = jsonObject(body);
  const texts = fields && textsOf(fields);
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
  const { text: _one, texts: _all, ...rest } = fields;
  let answers: WholeAnswer[];
  try {
    answers = await Promise.all(parts.map((part, i) => {
      const partBody = Buffer.from(JSON.stringify({ ...rest, texts: part.indexes.map((index) => texts[index]) }));
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
  const parsed = answers.map((answer, i) => sentimentAnswer(answer.body, targets[i]!));
  return reply.send({
    model: parsed.map((answer) => answer.model).join(','),
    revision: parsed.map((answer) => answer.revision).join(','),
    results: reassemble(texts.length, parts.map((part, i) => ({ indexes: part.indexes, results: parsed[i]!.results }))),
  });
}

function target(catalog: Catalog, model: RoutedModel, part: Part): RoutedModel {
  if (part.model === undefined) return model;
  const found = catalog.get(model.namespace, part.model);
  if (!found) throw new RouterError('NotFound', `unknown model "${part.model}" (named in routing.languages of "${model.name}")`);
  return found;
}

function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The texts of a body the runtime would accept as to its texts; undefined for one it would refuse. */
function textsOf(fields: Record<string, unknown>): string[] | undefined {
  const { text, texts } = fields;
  if (text !== undefined && texts === undefined) return typeof text === 'string' ? [text] : undefined;
  if (text === undefined && Array.isArray(texts) && texts.every((t) => typeof t === 'string')) return texts;
  return undefined;
}

function sentimentAnswer(body: Buffer, model: RoutedModel): SentimentAnswer {
  const parsed = jsonObject(body);
  if (!parsed || typeof parsed.model !== 'string' || typeof parsed.revision !== 'string' || !Array.isArray(parsed.results)) {
    throw new RouterError('UpstreamFailed', `model ${model.namespace}/${model.name} answered /v1/sentiment with a body that is not a sentiment answer`);
  }
  return parsed as unknown as SentimentAnswer;
}
