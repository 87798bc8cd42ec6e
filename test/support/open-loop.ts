import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
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
  const total = Math.floor((rate * durationMs) / 1000);
  const pending: Promise<Outcome>[] = [];
  const start = performance.now();
  const target = new URL(url);
  const contentHeaders = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  // Fresh connections (probes, a few a second) go through node:http; keep-alive load through the cheaper pool.
  const agent = freshConnections ? new Agent({ keepAlive: false, maxSockets: Infinity }) : undefined;
  const pool = freshConnections
    ? undefined
    : new RawPool(
        { host: target.hostname, port: Number(target.port) },
        Buffer.from(
          `${method} ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n` +
            Object.entries({ ...headers, ...contentHeaders })
              .map(([name, value]) => `${name}: ${value}\r\n`)
              .join('') +
            `\r\n${body ?? ''}`,
        ),
        // JSON (openLoopInProcess) turns Infinity into null.
        Number.isFinite(maxConnections) ? maxConnections : Infinity,
      );

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
      if (pool) {
        pool.send({ deadline: due + timeoutMs, finish });
        return;
      }
      const outgoing = request(url, { method, agent, headers: { ...headers, ...contentHeaders } }, (response) => {
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
  agent?.destroy();
  pool?.destroy();
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

/** One request's wait for its answer: status 0 with an error when none came. */
interface Exchange {
  /** performance.now() after which the request counts as unanswered. */
  deadline: number;
  finish(status: number, error?: string): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const SWEEP_MS = 50;

/**
 * A load generator's HTTP/1.1 keep-alive client on plain sockets: one prebuilt request, at most
 * one exchange per connection at a time, answers framed by Content-Length (which every answer of
 * the runtime's JSON routes carries). It costs a fraction of node:http's client per request, so a
 * generator on a shared 2-core machine keeps to a schedule of thousands of requests a second that
 * node:http's client falls seconds behind. Up to maxConnections connections; a request due while
 * all are busy waits here, and that wait is part of its latency.
 */
class RawPool {
  private readonly connections = new Set<Connection>();
  private readonly idle: Connection[] = [];
  private waiting: Exchange[] = [];
  private waitingFrom = 0;
  private readonly sweep = setInterval(() => this.expire(), SWEEP_MS);
  // Plain fields, not parameter properties: the child process (openLoopInProcess) runs this file by type stripping alone.
  private readonly address: { host: string; port: number };
  readonly request: Buffer;
  private readonly maxConnections: number;

  constructor(address: { host: string; port: number }, request: Buffer, maxConnections: number) {
    this.address = address;
    this.request = request;
    this.maxConnections = maxConnections;
  }

  send(exchange: Exchange): void {
    const connection = this.idle.pop();
    if (connection) connection.start(exchange);
    else if (this.connections.size < this.maxConnections) {
      const fresh = new Connection(this, connect(this.address));
      this.connections.add(fresh);
      fresh.start(exchange);
    } else this.waiting.push(exchange);
  }

  /** A connection's exchange is over: it takes the next waiting request, or waits for one. */
  released(connection: Connection): void {
    const next = this.nextWaiting();
    if (next) connection.start(next);
    else this.idle.push(connection);
  }

  closed(connection: Connection): void {
    this.connections.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    const next = this.nextWaiting();
    if (next) this.send(next);
  }

  destroy(): void {
    clearInterval(this.sweep);
    for (const connection of this.connections) connection.socket.destroy();
  }

  /** The oldest waiting request still within its deadline (the sweep has answered the others). */
  private nextWaiting(): Exchange | undefined {
    const now = performance.now();
    while (this.waitingFrom < this.waiting.length && now > this.waiting[this.waitingFrom]!.deadline) this.waitingFrom++;
    if (this.waitingFrom >= this.waiting.length) return undefined;
    const next = this.waiting[this.waitingFrom++];
    if (this.waitingFrom > 1024 && this.waitingFrom * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingFrom);
      this.waitingFrom = 0;
    }
    return next;
  }

  private expire(): void {
    const now = performance.now();
    for (const connection of this.connections) connection.expire(now);
    for (let i = this.waitingFrom; i < this.waiting.length; i++) {
      const exchange = this.waiting[i]!;
      if (now > exchange.deadline) exchange.finish(0, 'timeout');
    }
  }
}

class Connection {
  private exchange: Exchange | undefined;
  private received: Buffer = Buffer.alloc(0);

  private readonly pool: RawPool;
  readonly socket: Socket;

  constructor(pool: RawPool, socket: Socket) {
    this.pool = pool;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (error) => this.fail(error.message));
    socket.on('close', () => {
      this.fail('connection closed before the answer');
      pool.closed(this);
    });
  }

  start(exchange: Exchange): void {
    this.exchange = exchange;
    this.socket.write(this.pool.request);
  }

  expire(now: number): void {
    if (this.exchange && now > this.exchange.deadline) {
      this.fail('timeout');
      this.socket.destroy();
    }
  }

  private fail(error: string): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.finish(0, error);
  }

  private read(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = this.received.indexOf(HEAD_END);
    if (headEnd === -1) return;
    const head = this.received.toString('latin1', 0, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.fail('an answer without Content-Length');
      this.socket.destroy();
      return;
    }
    if (this.received.length < headEnd + HEAD_END.length + Number(length[1])) return;
    this.received = Buffer.alloc(0);
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.finish(Number(head.slice(9, 12)));
    if (/\r\nconnection: *close/i.test(head)) this.socket.destroy();
    else this.pool.released(this);
  }
}

// Last, so that the classes above are defined when it runs.
if (import.meta.main) process.stdout.write(JSON.stringify(await openLoop(JSON.parse(process.argv[2]!) as OpenLoopOptions)));
