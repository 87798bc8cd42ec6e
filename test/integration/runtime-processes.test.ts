import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

// server.processes > 1: one supervising primary, N full servers sharing the port.

function servingProcesses(primary: number): number[] {
  return readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

/** A fresh connection per call, so the kernel picks a serving process for each. */
function freshConnection(url: string, method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, { method, agent: false, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer in 10 s`)));
    req.end(payload);
  });
}

const series = (metrics: string, name: string): string[] => metrics.split('\n').filter((line) => line.startsWith(name));

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('runtime with server.processes=2', () => {
  let child: ReturnType<typeof spawnRuntime>;
  let base: string;

  beforeAll(async () => {
    child = spawnRuntime(['serve', '--server.port=0', '--server.host=127.0.0.1', '--server.processes=2', '--server.drainDelayMs=0', '--session.intraOpThreads=1', '--cache.enabled=false']);
    base = await waitForReadyUrl(child, 120_000);
  }, 150_000);

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('reports ready once both serving processes are, and runs them as children of the primary', () => {
    expect(child.output().match(/"msg":"worker ready"/g)).toHaveLength(2);
    expect(servingProcesses(child.pid!)).toHaveLength(2);
  });

  it('answers from both processes, and every /metrics scrape sums the two', async () => {
    for (let i = 0; i < 20; i++) expect((await freshConnection(`${base}/v1/sentiment`, 'POST', { text: `request number ${i} was lovely` })).status).toBe(200);
    // The kernel spread the 20 connections over both processes' sockets (SO_REUSEPORT hashing; all
    // 20 on one side has odds of 1 in 500,000), so a scrape of one process alone would say less.
    for (let scrape = 0; scrape < 4; scrape++) {
      const { status, text } = await freshConnection(`${base}/metrics`, 'GET');
      expect(status).toBe(200);
      expect(series(text, 'sentiment_runtime_requests_total{route="/v1/sentiment",code="200"}')).toEqual(['sentiment_runtime_requests_total{route="/v1/sentiment",code="200"} 20']);
      // Summing would make these 2; they are per-pod facts.
      expect(series(text, 'sentiment_runtime_ready ')).toEqual(['sentiment_runtime_ready 1']);
      expect(series(text, 'sentiment_runtime_model_info{')[0]).toMatch(/\} 1$/);
    }
  });

  it('replaces a serving process that dies, and keeps answering meanwhile', async () => {
    const [victim, survivor] = servingProcesses(child.pid!);
    process.kill(victim!, 'SIGKILL');
    await until(() => child.output().includes('"msg":"worker died; starting a replacement"'), 'the primary to notice');
    for (let i = 0; i < 6; i++) expect((await freshConnection(`${base}/v1/sentiment`, 'POST', { text: 'served while one process restarts' })).status).toBe(200);
    await until(() => servingProcesses(child.pid!).length === 2 && child.output().match(/"msg":"worker ready"/g)!.length === 3, 'a replacement serving process');
    expect(child.output()).toMatch(/"signal":"SIGKILL","msg":"worker died; starting a replacement"/);
    expect(servingProcesses(child.pid!)).toContain(survivor);
    expect((await freshConnection(`${base}/v1/sentiment`, 'POST', { text: 'and after' })).status).toBe(200);
  }, 60_000);

  it('drains every process on SIGTERM and exits 0', async () => {
    const processes = servingProcesses(child.pid!);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(child.output().match(/"msg":"drained"/g)).toHaveLength(2);
    for (const pid of processes) expect(existsSync(`/proc/${pid}`)).toBe(false);
  }, 60_000);
});

it('stops with a non-zero exit when the serving processes cannot load the model', async () => {
  const child = spawnRuntime(['serve', '--server.port=0', '--server.host=127.0.0.1', '--server.processes=2', '--model.path=/nonexistent/model']);
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).not.toBe(0);
  expect(child.output()).toContain('sentiment-runtime: model: /nonexistent/model: model directory does not exist');
  expect(child.output()).toMatch(/"msg":"worker failed before it was ready; stopping"/);
  expect(child.output()).not.toMatch(/^\s+at /m);
}, 60_000);
