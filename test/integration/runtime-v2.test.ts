import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, repoRoot, startRuntime, type Json } from '../support/runtime.js';

const run = promisify(execFile);

/** Builds a binary-extension body: JSON header, then 4-byte little-endian length-prefixed texts. */
function binaryInferBody(texts: string[], outputs: object[]): { body: Buffer; headerLength: number } {
  const data = Buffer.concat(texts.flatMap((text) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', parameters: { binary_data_size: data.length } }], outputs }));
  return { body: Buffer.concat([header, data]), headerLength: header.length };
}

describe('KServe Open Inference Protocol (V2)', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  const url = (path: string): string => `${runtime.url}${path}`;

  beforeAll(async () => {
    runtime = await startRuntime({ model: { path: models.demo, name: 'sst2', revision: '3' } });
  });
  afterAll(async () => runtime?.close());

  it('reports server and model health and metadata', async () => {
    expect(await (await fetch(url('/v2/health/live'))).json()).toEqual({ live: true });
    expect(await (await fetch(url('/v2/health/ready'))).json()).toEqual({ ready: true });
    expect(await (await fetch(url('/v2/models/sst2/ready'))).json()).toEqual({ name: 'sst2', ready: true });
    const metadata = (await (await fetch(url('/v2/models/sst2/versions/3'))).json()) as Json;
    expect(metadata).toMatchObject({ name: 'sst2', versions: ['3'], inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }] });
    expect(metadata.outputs.map((o: { name: string }) => o.name)).toEqual(['label', 'probability', 'probabilities']);
    expect((await fetch(url('/v2/models/other'))).status).toBe(404);
    expect((await fetch(url('/v2/models/sst2/versions/9/ready'))).status).toBe(404);
  });

  it('infers from JSON tensors, flat or nested, and returns only requested outputs', async () => {
    const { status, json } = await post(url('/v2/models/sst2/infer'), {
      id: 'abc',
      inputs: [{ name: 'text', shape: [2, 1], datatype: 'BYTES', data: [['a joyous triumph'], ['a tedious mess']] }],
      outputs: [{ name: 'label' }, { name: 'probabilities' }],
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model_name: 'sst2', model_version: '3', id: 'abc' });
    expect(json.outputs).toHaveLength(2);
    expect(json.outputs[0]).toEqual({ name: 'label', datatype: 'BYTES', shape: [2], data: ['positive', 'negative'] });
    expect(json.outputs[1].shape).toEqual([2, 2]);
    expect(json.outputs[1].data).toHaveLength(4);
  });

  it('speaks the binary tensor data extension both ways', async () => {
    const { body, headerLength } = binaryInferBody(['a joyous triumph', 'a tedious mess'], [{ name: 'label', parameters: { binary_data: true } }, { name: 'probability' }]);
    const response = await fetch(url('/v2/models/sst2/infer'), { method: 'POST', headers: { 'inference-header-content-length': String(headerLength), 'content-type': 'application/octet-stream' }, body });
    expect(response.status).toBe(200);
    const raw = Buffer.from(await response.arrayBuffer());
    const jsonLength = Number(response.headers.get('inference-header-content-length'));
    const header = JSON.parse(raw.subarray(0, jsonLength).toString('utf8'));
    expect(header.outputs[0]).toMatchObject({ name: 'label', parameters: { binary_data_size: 4 + 8 + 4 + 8 } });
    expect(header.outputs[1].data).toHaveLength(2);
    const labels = raw.subarray(jsonLength);
    expect(labels.toString('utf8', 4, 4 + labels.readUInt32LE(0))).toBe('positive');
  });

  it('works with the real Triton/KServe V2 Python client (tritonclient.http)', async () => {
    const python = process.env.SENTIMENT_PYTHON;
    if (!python) throw new Error('SENTIMENT_PYTHON is not set: run the tests through hack/dev (it installs tritonclient into a cached venv)');
    const { stdout } = await run(python, [join(repoRoot, 'test', 'clients', 'v2_client.py'), new URL(runtime.url).host, 'sst2', 'a joyous triumph', 'a tedious mess']);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ live: true, ready: true, model_ready: true, metadata_inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }] });
    for (const mode of ['binary', 'json']) {
      expect(report[mode]).toMatchObject({ id: 'req-1', labels: ['positive', 'negative'], probabilities_shape: [2, 2] });
      expect(report[mode].probability.every((p: number) => p > 0.5 && p <= 1)).toBe(true);
    }
    expect(report.default_outputs).toEqual(['label', 'probabilities', 'probability']);
    expect(report.unknown_model_error).toContain('unknown model "no-such-model"');
  });
});

describe('V2 behind a bearer token (auth.tokenFile), with the real tritonclient', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  const dir = mkdtempSync(join(tmpdir(), 'sentiment-v2-auth-'));
  const TOKEN = 'v2-test-token-0123456789';

  beforeAll(async () => {
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    runtime = await startRuntime({ model: { path: models.demo, name: 'sst2', revision: '3' }, auth: { tokenFile: join(dir, 'token') } });
  });
  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the client that sends the token, and refuses the one that does not with 401', async () => {
    const python = process.env.SENTIMENT_PYTHON;
    if (!python) throw new Error('SENTIMENT_PYTHON is not set: run the tests through hack/dev (it installs tritonclient into a cached venv)');
    const client = (env: Record<string, string>) => run(python, [join(repoRoot, 'test', 'clients', 'v2_client.py'), new URL(runtime.url).host, 'sst2', 'a joyous triumph'], { env: { ...process.env, ...env } });
    const report = JSON.parse((await client({ V2_BEARER_TOKEN: TOKEN })).stdout);
    expect(report).toMatchObject({ live: true, ready: true, model_ready: true, binary: { labels: ['positive'] }, json: { labels: ['positive'] } });
    const refused = await client({}).then(() => undefined, (error: { stderr: string }) => error.stderr);
    expect(refused).toContain('authorization required');
    // The probes answer without it: the kubelet sends no token.
    expect((await fetch(`${runtime.url}/v2/health/ready`)).status).toBe(200);
    const unauthenticated = await post(`${runtime.url}/v2/models/sst2/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }] });
    expect([unauthenticated.status, unauthenticated.headers.get('www-authenticate'), unauthenticated.json.error_type]).toEqual([401, 'Bearer realm="sentiment-runtime"', 'Unauthorized']);
  });
});
