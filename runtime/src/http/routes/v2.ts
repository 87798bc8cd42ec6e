import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { RuntimeError } from '../../core/errors.js';
import { argmax } from '../../core/scores.js';
import { classifyForRequest, requireModel, type ServingContext } from '../context.js';
import { errorResponses } from '../errors.js';
import { checkTexts } from '../validate.js';
import { decodeRequest, encodeResponse, InferRequest, type OutputTensor } from '../v2-codec.js';

const HEADER_LENGTH = 'inference-header-content-length';
const PLATFORM = 'onnxruntime_onnx';

interface ModelParams {
  name: string;
  version?: string;
}

const TensorMetadata = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) });
const ServerMetadata = Type.Object({ name: Type.String(), version: Type.String(), extensions: Type.Array(Type.String()) });
const ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadata),
  outputs: Type.Array(TensorMetadata),
});
const ModelReady = Type.Object({ name: Type.String(), ready: Type.Boolean() });
const ServerReady = Type.Object({ ready: Type.Boolean() });
const InferResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  outputs: Type.Array(
    Type.Object({
      name: Type.String(),
      datatype: Type.String(),
      shape: Type.Array(Type.Integer()),
      parameters: Type.Optional(Type.Object({ binary_data_size: Type.Integer() })),
      data: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Array(Type.Number())])),
    }),
  ),
});
/** With the binary tensor data extension, the JSON header is followed by raw tensor bytes. */
const binaryBody = (description: string) => ({ description, schema: Type.String({ format: 'binary' }) });

/** KServe Open Inference Protocol (V2) REST: health, metadata and infer for the one served model. */
export const v2Routes: FastifyPluginAsync = async (app) => {
  // Infer bodies may be binary (tensor data extension) with or without a content type, so this
  // scope reads every body as bytes and the codec parses it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const context: ServingContext = app.serving;
  const version = (): string => context.config.model.revision;

  app.get('/v2', { schema: { summary: 'V2 server metadata', response: { 200: ServerMetadata, ...errorResponses } } }, async () => ({ name: 'sentiment-runtime', version: '1', extensions: ['binary_tensor_data'] }));
  app.get('/v2/health/live', { config: { kind: 'probe' }, schema: { summary: 'V2 server liveness', response: { 200: Type.Object({ live: Type.Boolean() }) } } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config: { kind: 'probe' }, schema: { summary: 'V2 server readiness', response: { 200: ServerReady, 400: ServerReady } } }, async (_request, reply) =>
    context.lifecycle.ready ? { ready: true } : reply.code(400).send({ ready: false }),
  );

  const checkModel = (params: ModelParams): void => {
    if (params.name !== context.config.model.name) throw new RuntimeError('NotFound', `unknown model "${params.name}"`);
    if (params.version !== undefined && params.version !== version()) {
      throw new RuntimeError('NotFound', `unknown version "${params.version}" of model "${params.name}"`);
    }
  };

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    checkModel(request.params);
    const labels = requireModel(context).info.labels;
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
    const labels = requireModel(context).info.labels;
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
    const params = Type.Object({ name: Type.String(), ...(prefix.includes(':version') ? { version: Type.String() } : {}) });
    app.get(prefix, { schema: { summary: 'V2 model metadata', params, response: { 200: ModelMetadata, ...errorResponses } } }, metadata);
    app.get(`${prefix}/ready`, { schema: { summary: 'V2 model readiness', params, response: { 200: ModelReady, 400: ModelReady, ...errorResponses } } }, ready);
    app.post(
      `${prefix}/infer`,
      {
        config: { kind: 'inference' },
        schema: {
          summary: 'V2 inference',
          params,
          body: { content: { 'application/json': { schema: InferRequest }, 'application/octet-stream': binaryBody('JSON request, then the binary tensor data; Inference-Header-Content-Length gives the JSON part\'s length.') } },
          response: { 200: { content: { 'application/json': { schema: InferResponse }, 'application/octet-stream': binaryBody('JSON header, then binary outputs; Inference-Header-Content-Length gives the JSON part\'s length.') } }, ...errorResponses },
        },
        // The codec reads and checks the body (JSON, or JSON followed by binary tensor data); the
        // schema above documents it, and the path parameters are plain strings.
        validatorCompiler: () => () => true,
      },
      infer,
    );
  }
};
