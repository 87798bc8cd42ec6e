import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Canaries } from '../canary/canary.js';
import type { InferenceApi } from '../canary/compare.js';
import type { Catalog, RoutedModel } from '../discovery/catalog.js';
import { forward, REQUEST_ID_HEADER, type ForwardBody, type Forwarding } from '../forward.js';
import { MODEL_HEADER, modelFromHeader, modelFromJson, NO_MODEL } from '../select.js';
import { answerByLanguage, predictApi, sentimentApi, v2Target, type SplitApi } from './by-language.js';
import { registerErrorHandling, RouterError } from './errors.js';

export interface RouterContext extends Forwarding {
  catalog: Catalog;
  canaries: Canaries;
  bodyLimitBytes: number;
  logLevel: string;
  /** Ready: the caches are synced and the router is not draining. */
  ready(): boolean;
  /** The first list of models and endpoints is in: before it, every model would look unknown. */
  synced(): boolean;
}

/** The model a request was routed to, for its metrics. */
declare module 'fastify' {
  interface FastifyRequest {
    routedTo?: RoutedModel;
  }
}

/** Models the router could route to, as GET /v1/models lists them. */
export interface ListedModel {
  /** What to send as the model name; `name.namespace` when another namespace holds the same name. */
  id: string;
  name: string;
  namespace: string;
  readyReplicas: number;
  replicas: number;
  /** The router asks for a first replica when a request comes for it at zero. */
  scaleFromZero: boolean;
  state: 'Ready' | 'ScaledToZero' | 'NotReady';
  /** The candidate revision while a canary step is analysed. */
  canary?: ListedCanary;
}

export interface ListedCanary {
  revision: string;
  step: number;
  shadowPercent?: number;
  weightPercent?: number;
  readyReplicas: number;
}

/**
 * The router's HTTP side: its own probes, metrics and model list, and every runtime route of
 * every model, forwarded to a ready pod. Request bodies arrive as unread streams; only a body
 * that must name its model in JSON is read here.
 */
export function buildApp(context: RouterContext, exposition: { contentType: string; metrics(): Promise<string> }): FastifyInstance {
  const app = Fastify({
    logger: { level: context.logLevel },
    bodyLimit: context.bodyLimitBytes,
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerErrorHandling(app, context.metrics);
  // The router reads no body it does not have to: each arrives as the raw request stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.addHook('onResponse', async (request, reply) => {
    const model = request.routedTo;
    if (!model) return;
    const labels = { namespace: model.namespace, model: model.name };
    context.metrics.requests.inc({ ...labels, code: String(reply.statusCode) });
    context.metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => (context.ready() ? { status: 'ready' } : reply.code(503).send({ status: 'not ready' })));
  app.get('/metrics', async (_request, reply) => reply.type(exposition.contentType).send(await exposition.metrics()));
  app.get('/v2', async () => ({ name: 'sentiment-router', version: '1', extensions: ['binary_tensor_data'] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) => (context.ready() ? { ready: true } : reply.code(400).send({ ready: false })));
  app.get('/v1/models', async () => ({ models: context.catalog.list().map((m) => listed(context.catalog, m)) }));

  const route = (requested: string | undefined): RoutedModel => {
    if (requested === undefined) throw new RouterError('Validation', NO_MODEL);
    if (!context.synced()) throw new RouterError('NotReady', 'the router is still reading the models it serves', 1);
    const found = context.catalog.resolve(requested);
    if ('missing' in found) throw new RouterError('NotFound', found.missing);
    return found;
  };
  const send = (request: FastifyRequest, reply: FastifyReply, model: RoutedModel, path: string, body: ForwardBody) => {
    request.routedTo = model;
    return forward(context, request, reply, model, path, body);
  };
  // An inference request of a model in a canary step may go to (or be copied to) the candidate.
  const infer = (api: InferenceApi, request: FastifyRequest, reply: FastifyReply, model: RoutedModel, path: string, body: ForwardBody) => {
    request.routedTo = model;
    return context.canaries.route(context, request, reply, model, api, path, body, (observe) => forward(context, request, reply, model, path, body, observe));
  };

  // The runtime's own API and TEI's: the model comes from the header, else from the JSON body. A
  // body for a model with language routes is read whole: its texts decide where it goes. Such a
  // request goes to the stable pods of its models: language routing and canaries do not combine.
  const routesLanguages = (model: RoutedModel) => model.languages.length > 0;
  const byHeaderOrField = (api: SplitApi, name: InferenceApi) => async (request: FastifyRequest, reply: FastifyReply) => {
    const named = modelFromHeader(request.headers[MODEL_HEADER]);
    const stream = request.body as Readable | undefined;
    let model: RoutedModel;
    let body: ForwardBody;
    if (named !== undefined) {
      model = route(named);
      body = stream && routesLanguages(model) ? await readBody(stream, context.bodyLimitBytes) : await smallBodyRead(request);
    } else if (stream === undefined) {
      model = route(undefined);
    } else {
      const read = modelFromJson(await readBody(stream, context.bodyLimitBytes));
      model = route(read.model);
      body = read.body;
    }
    if (!routesLanguages(model)) return infer(name, request, reply, model, request.url, body);
    if (!Buffer.isBuffer(body)) return send(request, reply, model, request.url, body);
    return answerByLanguage(api, context, context.catalog, request, reply, model, body, (target) => send(request, reply, target, request.url, body));
  };
  app.post('/v1/sentiment', byHeaderOrField(sentimentApi, 'sentiment'));
  app.post('/predict', byHeaderOrField(predictApi, 'predict'));
  app.get('/v1/model', async (request, reply) => send(request, reply, route(modelFromHeader(request.headers[MODEL_HEADER])), request.url, undefined));

  // V2: the path names the model. A `name.namespace` is rewritten to the name the runtime serves under.
  // A model with language routes hands an inference request, read whole, to the model of most of its texts.
  const v2 = async (request: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    let model = route(request.params.name);
    // From the raw URL: the parameter is decoded, the URL is not.
    const afterName = request.url.slice('/v2/models/'.length);
    const cut = afterName.search(/[/?]/);
    const rest = cut === -1 ? '' : afterName.slice(cut);
    const stream = request.body as Readable | undefined;
    let body: ForwardBody;
    const inference = request.method === 'POST' && /^\/(versions\/[^/]+\/)?infer(\?|$)/.test(rest);
    if (routesLanguages(model) && stream && inference) {
      body = await readBody(stream, context.bodyLimitBytes);
      model = v2Target(context.catalog, model, body, request.headers[V2_BINARY_HEADER] !== undefined);
      return send(request, reply, model, `/v2/models/${encodeURIComponent(model.name)}${rest}`, body);
    }
    body = await smallBodyRead(request);
    const path = `/v2/models/${encodeURIComponent(model.name)}${rest}`;
    return inference ? infer('v2', request, reply, model, path, body) : send(request, reply, model, path, body);
  };
  app.route({ method: ['GET', 'POST'], url: '/v2/models/:name', handler: v2 });
  app.route({ method: ['GET', 'POST'], url: '/v2/models/:name/*', handler: v2 });
  return app;
}

function listed(catalog: Catalog, m: RoutedModel): ListedModel {
  const state = m.ready.length > 0 ? 'Ready' : m.replicas === 0 ? 'ScaledToZero' : 'NotReady';
  const listing: ListedModel = { id: catalog.displayName(m), name: m.name, namespace: m.namespace, readyReplicas: m.ready.length, replicas: m.replicas, scaleFromZero: m.wakeable, state };
  if (m.canary) {
    const { revision, step, shadowPercent, weightPercent, ready } = m.canary;
    listing.canary = { revision, step, ...(shadowPercent !== undefined ? { shadowPercent } : { weightPercent: weightPercent! }), readyReplicas: ready.length };
  }
  return listing;
}

/**
 * Bodies at most this long (by Content-Length) are read before forwarding: one write carries
 * headers and body to the pod instead of one per chunk (system calls were most of the router's
 * CPU per request), and a read body can be retried on another pod. Longer or chunked ones stream.
 */
const SMALL_BODY_BYTES = 64 * 1024;
/** The V2 binary extension's header: a body in it is JSON followed by raw tensors. */
const V2_BINARY_HEADER = 'inference-header-content-length';

async function smallBodyRead(request: FastifyRequest): Promise<ForwardBody> {
  const stream = request.body as Readable | undefined;
  const length = Number(request.headers['content-length']);
  if (stream === undefined || !(length <= SMALL_BODY_BYTES)) return stream;
  return readBody(stream, SMALL_BODY_BYTES);
}

/** Reads a body to find its model field, refusing one over the limit before it is all in memory. */
async function readBody(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RouterError('PayloadTooLarge', `request body is over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
