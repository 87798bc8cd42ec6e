import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface Outcome {
  /** HTTP status, or 0 when no answer came (connection error or the client's own timeout). */
  status: number;
  /** From when the request was due to when its answer had arrived: time the generator fell behind counts too. */
  latencyMs: number;
  /** Due time, in ms from the start. */
  dueMs: number;
  /** How late the generator sent it: above a few ms, the generator, not the server, was short of CPU. */
  sendLagMs: number;
  error?: string;
}

export interface OpenLoopOptions {
  url: string;
  /** Requests per second, kept whatever the answers do. */
  rate: number;
  durationMs: number;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** A request still unanswered this long after it was due counts as no answer. */
  timeoutMs?: number;
  /** A fresh connection per request, as the kubelet probes; otherwise keep-alive, opening as many connections as are busy. */
  freshConnections?: boolean;
  /**
   * At most this many connections open at once (keep-alive only); a request due while all are busy
   * waits for one in the client, and that wait counts in its latency. Unbounded by default.
   */
  maxConnections?: number;
}

/**
 * Open-loop load (the wrk2 idea): request i is due at start + i / rate and is sent then, however
 * many are still unanswered, so a slow server meets more work instead of a politely waiting client
 * (a closed loop such as autocannon's hides overload by slowing down with the server). Latency
 * counts from the due time, so a generator that falls behind does not hide the wait either.
 */
export async function openLoop(options: OpenLoopOptions): Promise<Outcome[]> {
  const { url, rate, durationMs, method = 'GET', body, headers = {}, timeoutMs = 60_000, freshConnections = false, maxConnections = Infinity } = options;
  const agent = new Agent({ keepAlive: !freshConnections, maxSockets: freshConnections ? Infinity : maxConnections });
  const total = Math.floor((rate * durationMs) / 1000);
  const pending: Promise<Outcome>[] = [];
  const start = performance.now();

  const send = (dueMs: number): Promise<Outcome> =>
    new Promise((resolve) => {
      const due = start + dueMs;
      const sendLagMs = performance.now() - due;
      let settled = false;
      const finish = (status: number, error?: string): void => {
        if (settled) return;
        settled = true;
        resolve({ status, latencyMs: performance.now() - due, dueMs, sendLagMs, ...(error === undefined ? {} : { error }) });
      };
      const outgoing = request(url, { method, agent, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) } }, (response) => {
        response.resume();
        response.once('end', () => finish(response.statusCode ?? 0));
        response.once('error', (error) => finish(0, error.message));
      });
      outgoing.setTimeout(Math.max(1, timeoutMs - (performance.now() - due)), () => {
        finish(0, 'timeout');
        outgoing.destroy();
      });
      outgoing.once('error', (error) => finish(0, error.message));
      outgoing.end(body);
    });

  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - start;
      // Catch up on everything due by now: a late timer must not lower the offered rate.
      while (sent < total && (sent * 1000) / rate <= elapsed) pending.push(send((sent++ * 1000) / rate));
      if (sent >= total) resolve();
      else setTimeout(tick, Math.min(5, Math.max(0, (sent * 1000) / rate - elapsed)));
    };
    tick();
  });
  const outcomes = await Promise.all(pending);
  agent.destroy();
  return outcomes;
}

/**
 * openLoop in a process of its own, as a kubelet probes from outside the pod: its latencies are
 * not those of the test process's event loop, busy with a load generator's thousands of requests.
 */
export function openLoopInProcess(options: OpenLoopOptions): Promise<Outcome[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as Outcome[]) : reject(new Error(`open-loop process exited with ${code}`))));
  });
}

if (import.meta.main) process.stdout.write(JSON.stringify(await openLoop(JSON.parse(process.argv[2]!) as OpenLoopOptions)));

/** The q-quantile (0..1) of `values`, or NaN for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Requests per second the server completes with `concurrency` clients each waiting for its answer
 * (a closed loop): what it can do right now, on however busy a machine, so an open-loop run can
 * offer a known multiple of it.
 */
export async function closedLoopRate(options: { url: string; body: string; durationMs: number; concurrency: number }): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const end = performance.now() + options.durationMs;
  let completed = 0;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const status = await new Promise<number>((resolve, reject) => {
        const outgoing = request(options.url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) } }, (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
        });
        outgoing.once('error', reject);
        outgoing.end(options.body);
      });
      if (status === 200) completed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, client));
  agent.destroy();
  return (completed * 1000) / (performance.now() - started);
}
