import { RuntimeError } from '../core/errors.js';

/**
 * KServe Open Inference Protocol (V2) REST bodies, including Triton's binary tensor data
 * extension that real clients (tritonclient) use by default: a JSON header whose length is in
 * the Inference-Header-Content-Length header, followed by raw tensor bytes.
 */
export interface V2Tensor {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

export interface V2Request {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Tensor[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

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
  let request: V2Request;
  try {
    request = JSON.parse(body.subarray(0, jsonEnd).toString('utf8')) as V2Request;
  } catch (error) {
    throw invalid(`request header is not valid JSON: ${(error as Error).message}`);
  }
  if (request === null || typeof request !== 'object' || !Array.isArray(request.inputs)) throw invalid('"inputs" must be a list of tensors');
  if (request.inputs.length !== 1) throw invalid(`expected exactly 1 input tensor of texts, got ${request.inputs.length}`);
  const input = request.inputs[0]!;
  if (input.datatype !== 'BYTES') throw invalid(`input "${input.name}" must have datatype BYTES, got ${String(input.datatype)}`);
  const count = elementCount(input.shape, input.name);
  const binarySize = input.parameters?.binary_data_size;
  const texts = binarySize === undefined ? jsonTexts(input) : binaryTexts(body.subarray(jsonEnd), binarySize, input.name);
  if (texts.length !== count) throw invalid(`input "${input.name}" has shape [${input.shape.join(', ')}] but ${texts.length} elements`);
  return { request, texts };
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
