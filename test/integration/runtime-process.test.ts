import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { models, post, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

/** Renames a graph input in place: same-length names keep the protobuf's length prefixes valid. */
function renameInput(from: string, to: string): (dir: string) => void {
  return (dir) => {
    const file = join(dir, 'onnx/model_quantized.onnx');
    const bytes = readFileSync(file);
    writeFileSync(file, Buffer.from(bytes.toString('latin1').replaceAll(from, to), 'latin1'));
  };
}

function brokenModel(breakIt: (dir: string) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'model-')), 'm');
  cpSync(models.demo, dir, { recursive: true });
  breakIt(dir);
  return dir;
}

async function exitOf(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawnRuntime(['serve', '--server.port=0', '--server.host=127.0.0.1', ...args]);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: child.output().trim() };
}

describe('runtime process', () => {
  it.each([
    ['a missing model directory', ['--model.path=/nonexistent/model'], '/nonexistent/model: model directory does not exist'],
    ['a corrupt ONNX file', ['--model.path', brokenModel((d) => writeFileSync(join(d, 'onnx/model_quantized.onnx'), 'not a model'))], 'onnx/model_quantized.onnx: '],
    ['a model input the runtime does not feed', ['--model.path', brokenModel(renameInput('token_type_ids', 'segment_ids_xx'))], 'unsupported model input "segment_ids_xx"'],
    ['a model without attention_mask', ['--model.path', brokenModel(renameInput('attention_mask', 'attention_mast'))], 'the model has no "attention_mask" input'],
    ['a corrupt config.json', ['--model.path', brokenModel((d) => writeFileSync(join(d, 'config.json'), '{"id2label": '))], 'config.json: invalid JSON'],
    ['config.json without labels', ['--model.path', brokenModel((d) => writeFileSync(join(d, 'config.json'), '{"model_type":"bert","max_position_embeddings":128}'))], 'config.json: "id2label" must map'],
    ['a corrupt tokenizer.json', ['--model.path', brokenModel((d) => writeFileSync(join(d, 'tokenizer.json'), '{"model": 1}'))], 'tokenizer.json: cannot load tokenizer'],
    ['a quantization the directory lacks', ['--model.quantization=fp16'], 'onnx/model_fp16.onnx: file is missing'],
    ['label names that do not match the classes', ['--model.labels=a,b,c'], 'id2label has 2 classes but 3 label names'],
    ['CUDA configured but absent, without allowCpuFallback', ['--session.executionProvider=cuda'], 'CUDA execution provider unavailable'],
    ['an unknown config flag', ['--batching.maxBatchSise=3'], 'unknown flag --batching.maxBatchSise'],
    ['an out-of-range setting', ['--batching.maxBatchSize=0'], 'batching.maxBatchSize must be >= 1'],
  ])('exits non-zero with one clear line for %s', async (_name, args, message) => {
    const { code, output } = await exitOf(args);
    expect(code).not.toBe(0);
    const errorLines = output.split('\n').filter((line) => line.startsWith('sentiment-runtime:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toContain(message);
    expect(output).not.toMatch(/^\s+at /m);
  });

  it('exits non-zero with one line naming the setting when the port is already in use', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, output } = await exitOf([`--server.port=${port}`]);
      expect(code).not.toBe(0);
      expect(output).toBe(`sentiment-runtime: port ${port} is already in use (EADDRINUSE on 127.0.0.1:${port}); set server.port (--server.port, SENTIMENT_SERVER_PORT) to a free port, or stop the process that holds it`);
    } finally {
      holder.close();
    }
  });

  it('falls back to CPU with a warning and a metric label when CUDA is absent and fallback is allowed', async () => {
    const child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--session.executionProvider=cuda', '--session.allowCpuFallback=true', '--server.drainDelayMs=0']);
    const base = await waitForReadyUrl(child);
    try {
      expect(child.output()).toMatch(/"level":40.*"requested":"cuda".*falling back to cpu/);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/sentiment_runtime_model_info\{[^}]*execution_provider="cpu",requested_provider="cuda"\} 1/);
      expect((await post(`${base}/v1/sentiment`, { text: 'still works on the CPU' })).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('drains on SIGTERM: unready at once, finishes accepted work, then exits 0', async () => {
    const child = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', '--server.drainDelayMs=600', '--batching.maxBatchDelayMs=400', '--cache.enabled=false']);
    const base = await waitForReadyUrl(child);

    const accepted = post(`${base}/v1/sentiment`, { text: 'accepted before the signal' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));

    const readiness = await fetch(`${base}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toEqual({ status: 'draining' });
    // Still accepting during the drain delay, while endpoints catch up, and asking clients to reconnect.
    const during = await post(`${base}/v1/sentiment`, { text: 'arrived during the drain delay' });
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');
    expect((await accepted).status).toBe(200);

    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(child.output()).toContain('"msg":"drained"');
  });
});
