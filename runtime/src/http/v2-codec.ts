import Type, { type Static, type TProperties } from 'typebox';
import { Compile } from 'typebox/compile';
import { RuntimeError } from '../core/errors.js';
import { checkJsonDepth } from './json.js';

/**
 * KServe Open Inference Protocol (V2) REST bodies, including Triton's binary tensor data
 * extension that real clients (tritonclient) use by default: a JSON header whose length is in
 * the Inference-Header-Content-Length header, followed by raw tensor bytes.
 */
const Parameters = <T extends TProperties>(known: T) => Type.Object(known, { description: 'Free-form; the keys named here are checked.' });
const Tensor = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { description: '[N] or [N, 1]' }),
  datatype: Type.Literal('BYTES'),
  parameters: Type.Optional(Parameters({ binary_data_size: Type.Optional(Type.Integer({ minimum: 0 })) })),
  data: Type.Optional(Type.Array(Type.Unknown(), { description: 'The texts, flat or nested row-major; absent when sent as binary data.' })),
});

/** The whole structure of an infer request: the codec checks every body against it before reading a field. */
export const InferRequest = Type.Object({
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters({ binary_data_output: Type.Optional(Type.Boolean()) })),
  inputs: Type.Array(Tensor, { minItems: 1, maxItems: 1, description: 'Exactly one tensor of texts.' }),
  outputs: Type.Optional(Type.Array(Type.Object({ name: Type.String(), parameters: Type.Optional(Parameters({ binary_data: Type.Optional(Type.Boolean()) })) }))),
});
export type V2Request = Static<typeof InferRequest>;
type V2Tensor = Static<typeof Tensor>;
const inferRequest = Compile(InferRequest);

export interface OutputTensor {
  name: string;
  datatype: 'BYTES' | 'FP32';
  shape: number[];
  values: string[] | number[];
}

const invalid = (message: string): RuntimeError => new RuntimeError('Validation', message);

export function decodeRequest(body: Buffer, headerLength: number | undefined): { request: V2Request; texts: string[] } {
  const jsonEnd = headerLength ?? body.length;
  if (!Number.isInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.length) throw invalid('Inference-Header-Content-Length is out of range');
  const header = body.subarray(0, jsonEnd);
  checkJsonDepth(header);
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (error) {
    throw invalid(`request header is not valid JSON: ${(error as Error).message}`);
  }
  const request = checkStructure(parsed);
  const input = request.inputs[0]!;
  const count = elementCount(input.shape, input.name);
  const binarySize = input.parameters?.binary_data_size;
  const texts = binarySize === undefined ? jsonTexts(input) : binaryTexts(body.subarray(jsonEnd), binarySize, input.name);
  if (texts.length !== count) throw invalid(`input "${input.name}" has shape [${input.shape.join(', ')}] but ${texts.length} elements`);
  return { request, texts };
}

function checkStructure(value: unknown): V2Request {
  if (inferRequest.Check(value)) return value;
  const problems = inferRequest.Errors(value).map((error) => {
    const where = error.instancePath === '' ? 'body' : error.instancePath;
    switch (error.keyword) {
      case 'required':
        return (error.params.requiredProperties as string[]).map((name) => `${error.instancePath}/${name} is required`).join('; ');
      case 'const':
        return `${where} must be ${JSON.stringify(error.params.allowedValue)}`;
      default:
        return `${where} ${error.message}`;
    }
  });
  throw invalid(`invalid request: ${[...new Set(problems)].join('; ')}`);
}

function elementCount(shape: unknown, name: string): number {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalid(`input "${name}" shape must be [N] or [N, 1]`);
  }
  if (shape.length === 2 && shape[1] !== 1) throw invalid(`input "${name}" shape must be [N] or [N, 1]`);
  return shape[0] as number;
}

function jsonTexts(input: V2Tensor): string[] {
  if (!Array.isArray(input.data)) throw invalid(`input "${input.name}" has no "data"`);
  // The spec allows nested row-major data, e.g. [["a"], ["b"]] for shape [2, 1].
  const flat = input.data.flat(Infinity);
  return flat.map((value, i) => {
    if (typeof value !== 'string') throw invalid(`input "${input.name}" element ${i} must be a string`);
    return value;
  });
}

function binaryTexts(binary: Buffer, size: unknown, name: string): string[] {
  if (!Number.isInteger(size) || (size as number) < 0 || (size as number) > binary.length) {
    throw invalid(`input "${name}" binary_data_size does not match the body`);
  }
  const texts: string[] = [];
  let offset = 0;
  const end = size as number;
  while (offset < end) {
    if (offset + 4 > end) throw invalid(`input "${name}" binary data is truncated`);
    const length = binary.readUInt32LE(offset);
    offset += 4;
    if (offset + length > end) throw invalid(`input "${name}" binary data is truncated`);
    texts.push(binary.toString('utf8', offset, offset + length));
    offset += length;
  }
  return texts;
}

export interface EncodedResponse {
  body: Buffer | Record<string, unknown>;
  headerLength?: number;
}

/** Answers with the requested outputs (all by default), in binary where the client asked for it. */
export function encodeResponse(request: V2Request, head: Record<string, unknown>, available: OutputTensor[]): EncodedResponse {
  const requested: NonNullable<V2Request['outputs']> = request.outputs ?? available.map((tensor) => ({ name: tensor.name }));
  const binaryByDefault = request.parameters?.binary_data_output === true;
  const chunks: Buffer[] = [];
  const outputs = requested.map((wanted) => {
    const tensor = available.find((candidate) => candidate.name === wanted.name);
    if (!tensor) throw invalid(`unknown output "${wanted.name}" (outputs: ${available.map((t) => t.name).join(', ')})`);
    const binary = (wanted.parameters?.binary_data as boolean | undefined) ?? binaryByDefault;
    if (!binary) return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, data: tensor.values };
    const bytes = tensor.datatype === 'BYTES' ? encodeBytes(tensor.values as string[]) : encodeFp32(tensor.values as number[]);
    chunks.push(bytes);
    return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, parameters: { binary_data_size: bytes.length } };
  });
  const json = { ...head, ...(request.id !== undefined ? { id: request.id } : {}), outputs };
  if (chunks.length === 0) return { body: json };
  const header = Buffer.from(JSON.stringify(json), 'utf8');
  return { body: Buffer.concat([header, ...chunks]), headerLength: header.length };
}

function encodeBytes(values: string[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const bytes = Buffer.from(value, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

function encodeFp32(values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => buffer.writeFloatLE(value, i * 4));
  return buffer;
}
