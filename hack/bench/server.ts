import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSample, cpuShare, percentile, serverSample, type CpuSample } from './stats.js';

/**
 * A benchmark's server: loopback on a free port, no drain pause on stop, and no result cache, since
 * the sentence sets repeat every few seconds and cached answers would skip inference.
 */
export const BENCH_SERVER_FLAGS = ['--server.host=127.0.0.1', '--server.port=0', '--server.drainDelayMs=0', '--cache.enabled=false'];

export interface ServerChild {
  url: string;
  pid: number;
  /** Writes one line to its stdin (the bench's router-server reads routes from it). */
  tell(line: string): void;
  stop(): Promise<void>;
}

// Both files are compiled into dist/ side by side, so the path holds from the built bench.
const MAIN = fileURLToPath(new URL('../../runtime/src/main.js', import.meta.url));

/**
 * A separate process, so the load generator's event loop and the server's never share a thread;
 * SENTIMENT_* variables from the caller's shell are dropped so only `flags` configure it. The
 * runtime by default; `command` runs another script that logs the same "ready" line.
 */
export async function startServer(flags: string[], command: string[] = [MAIN, 'serve']): Promise<ServerChild> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SENTIMENT_')));
  const child = spawn(process.execPath, [...command, ...flags], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not report ready within 120 s')), 120_000);
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`server ${why}\n${stderr.trim()}`));
    };
    child.once('error', (error) => fail(`could not start: ${error.message}`));
    child.once('exit', (code, signal) => fail(`exited before ready (code ${code}, signal ${signal})`));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let record: { msg?: string; url?: string };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        return;
      }
      if (record.msg === 'ready' && record.url) {
        clearTimeout(timer);
        resolve(record.url);
      }
    });
  }).catch((error: unknown) => {
    kill(child, killOnExit);
    throw error;
  });

  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`server exited during the benchmark (code ${code}, signal ${signal})\n${stderr.trim()}`);
  });
  return {
    url,
    pid: child.pid!,
    tell: (line) => void child.stdin!.write(`${line}\n`),
    stop: () => {
      stopping = true;
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      child.kill('SIGTERM');
      const force = setTimeout(() => kill(child, killOnExit), 10_000);
      return exited.finally(() => {
        clearTimeout(force);
        process.off('exit', killOnExit);
      });
    },
  };
}

function kill(child: ChildProcess, killOnExit: () => void): void {
  child.kill('SIGKILL');
  process.off('exit', killOnExit);
}

export interface LoadRow {
  connections: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non200: number;
  errors: number;
  timeouts: number;
  /** Cores' worth of CPU (1.0 = one core) used by the load generator, the server and everything else. */
  cpu: { client: number; server: number; other: number };
  /** From the server's metrics: how full its batches were and how busy its inference worker was. */
  inside: { meanBatch: number; inferenceBusy: number; inferenceTextsPerSec: number; tokenizeMsPerText: number };
}

/**
 * One sentence per request. Each connection starts at a different offset of the sentence list,
 * so concurrent requests carry different lengths, as real traffic would, instead of all
 * connections marching through the same sentence in lockstep.
 */
export async function loadTest(server: ServerChild, sentences: string[], connections: number, seconds: number): Promise<LoadRow> {
  const headers = { 'content-type': 'application/json' };
  const bodies = sentences.map((text) => JSON.stringify({ text }));
  let nextClient = 0;
  const latencies: number[] = [];
  let ok = 0;
  let non200 = 0;
  const metricsBefore = await serverSample(server.url);
  let before: CpuSample | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${server.url}/v1/sentiment`,
        method: 'POST',
        headers,
        connections,
        duration: seconds,
        setupClient: (client) => {
          const offset = Math.floor((nextClient++ * bodies.length) / connections);
          const rotated = [...bodies.slice(offset), ...bodies.slice(0, offset)];
          client.setRequests(rotated.map((body) => ({ method: 'POST', path: '/v1/sentiment', headers, body })));
        },
      },
      (error: unknown, result) => (error ? reject(error as Error) : resolve(result)),
    );
    // After the clients are built, so setting up 64 request lists is not billed to the run.
    instance.on('start', () => (before = cpuSample(server.pid)));
    // autocannon's own histogram keeps whole milliseconds; the raw durations keep the fraction.
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode === 200) {
        ok++;
        latencies.push(ms);
      } else non200++;
    });
  });
  const cpu = cpuShare(before!, cpuSample(server.pid));
  const metricsAfter = await serverSample(server.url);
  const texts = metricsAfter.batchedTexts - metricsBefore.batchedTexts;
  const inferenceSeconds = metricsAfter.inferenceSeconds - metricsBefore.inferenceSeconds;
  const inside = {
    meanBatch: texts / (metricsAfter.batches - metricsBefore.batches),
    inferenceBusy: inferenceSeconds / ((metricsAfter.at - metricsBefore.at) / 1000),
    inferenceTextsPerSec: texts / inferenceSeconds,
    tokenizeMsPerText: ((metricsAfter.tokenizeSeconds - metricsBefore.tokenizeSeconds) * 1000) / texts,
  };
  return {
    connections,
    requestsPerSec: ok / result.duration,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok,
    non200,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu,
    inside,
  };
}
