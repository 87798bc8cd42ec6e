import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RuntimeError } from '../../core/errors.js';
import { argmax } from '../../metrics.js';
import { checkTexts, classifyForRequest, requireService, type ServingContext } from '../context.js';
import { decodeRequest, encodeResponse, type OutputTensor } from '../v2-codec.js';

const HEADER_LENGTH = 'inference-header-content-length';
const PLATFORM = 'onnxruntime_onnx';

interface ModelParams {
  name: string;
  version?: string;
}

/** KServe Open Inference Protocol (V2) REST: health, metadata and infer for the one served model. */
export const v2Routes: FastifyPluginAsync = async (app) => {
  // Infer bodies may be binary (tensor data extension) with or without a content type, so this
  // scope reads every body as bytes and the codec parses it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const context: ServingContext = app.serving;
  const version = (): string => context.config.model.revision;

  app.get('/v2', async () => ({ name: 'sentiment-runtime', version: '1', extensions: ['binary_tensor_data'] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) => (context.lifecycle.ready ? { ready: true } : reply.code(400).send({ ready: false })));

  const checkModel = (params: ModelParams): void => {
    if (params.name !== context.config.model.name) throw new RuntimeError('NotFound', `unknown model "${params.name}"`);
    if (params.version !== undefined && params.version !== version()) {
      throw new RuntimeError('NotFound', `unknown version "${params.version}" of model "${params.name}"`);
    }
  };

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    checkModel(request.params);
    const labels = requireService(context).manifest.labels;
    return {
      name: context.config.model.name,
      versions: [version()],
      platform: PLATFORM,
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1] },
        { name: 'probability', datatype: 'FP32', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, labels.length] },
      ],
    };
  };
  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    checkModel(request.params);
    const isReady = context.lifecycle.ready;
    return reply.code(isReady ? 200 : 400).send({ name: context.config.model.name, ready: isReady });
  };
  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    checkModel(request.params);
    const header = request.headers[HEADER_LENGTH];
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const { request: inferRequest, texts } = decodeRequest(body, header === undefined ? undefined : Number(header));
    checkTexts(texts, context.config);
    const labels = requireService(context).manifest.labels;
    const predictions = await classifyForRequest(context, request, reply, texts);
    const best = predictions.map((prediction) => argmax(prediction.probabilities));
    const outputs: OutputTensor[] = [
      { name: 'label', datatype: 'BYTES', shape: [texts.length], values: best.map((index) => labels[index] ?? String(index)) },
      { name: 'probability', datatype: 'FP32', shape: [texts.length], values: predictions.map((prediction, i) => prediction.probabilities[best[i]!]!) },
      { name: 'probabilities', datatype: 'FP32', shape: [texts.length, labels.length], values: predictions.flatMap((prediction) => prediction.probabilities) },
    ];
    const encoded = encodeResponse(inferRequest, { model_name: context.config.model.name, model_version: version() }, outputs);
    if (encoded.headerLength === undefined) return encoded.body;
    return reply.header(HEADER_LENGTH, String(encoded.headerLength)).type('application/octet-stream').send(encoded.body);
  };

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, metadata);
    app.get(`${prefix}/ready`, ready);
    app.post(`${prefix}/infer`, infer);
  }
};
