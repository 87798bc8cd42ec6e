import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, startRuntime } from '../support/runtime.js';

/** Writes `data` on a raw socket and waits, sending nothing more, until the server closes it. */
function stall(url: string, data: string): Promise<{ seconds: number; answer: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(data));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ seconds: (performance.now() - started) / 1000, answer }));
  });
}

describe('stalled requests (raw sockets)', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  beforeAll(async () => {
    runtime = await startRuntime({ model: { path: models.demo }, server: { headersTimeoutMs: 500, bodyTimeoutMs: 1500 } });
  });
  afterAll(async () => runtime?.close());

  it('closes a connection whose body stops short of its Content-Length with 408 after server.bodyTimeoutMs, and counts it', async () => {
    const head = 'POST /v1/sentiment HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const [body, headers] = await Promise.all([stall(runtime.url, `${head}{"text": "go`), stall(runtime.url, 'POST /v1/sentiment HTTP/1.1\r\nHost: localhost\r\n')]);
    expect(body.answer).toMatch(/^HTTP\/1\.1 408 /);
    // Node checks the timeouts once a second at most, so allow that much past each.
    expect(body.seconds).toBeGreaterThanOrEqual(1.4);
    expect(body.seconds).toBeLessThan(1.5 + 2);
    expect(headers.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(headers.seconds).toBeLessThan(0.5 + 2);
    const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
    expect(metrics).toMatch(/^sentiment_runtime_timed_out_requests_total 2$/m);
    // The server keeps serving.
    expect((await fetch(`${runtime.url}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"good"}' })).status).toBe(200);
  });
});
