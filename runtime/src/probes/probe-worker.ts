import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { ProbeWorkerData, ToProbeWorker, FromProbeWorker } from './probe-listener.js';
import type { ProbeAnswer } from './probe-state.js';

// A worker started from TypeScript source (the test runner) resolves no .js sibling: load the rules by the extension this file has.
const stateModule = new URL(import.meta.url.endsWith('.ts') ? './probe-state.ts' : './probe-state.js', import.meta.url);
const { answerProbe, HEARTBEAT, PHASE, PHASES } = (await import(stateModule.href)) as typeof import('./probe-state.js');

/**
 * The probe listener's thread: its own event loop and its own listening socket, so a kubelet's
 * probe is neither queued in the serving port's accept backlog nor behind the main thread's
 * parsing and admission of thousands of requests. It reads the main thread's state from shared
 * memory and does nothing else.
 */
const { state, host, port, reusePort, stallMs } = workerData as ProbeWorkerData;
const shared = new BigInt64Array(state);
const parent = parentPort!;
let failure: string | undefined;
parent.on('message', (message: ToProbeWorker) => {
  if (message.type === 'failure') failure = message.error;
});

const NOT_FOUND: ProbeAnswer = { status: 404, body: { status: 'not found' } };

const server = createServer((request, response) => {
  const path = (request.url ?? '').split('?', 1)[0]!;
  const heartbeatAgeMs = Date.now() - Number(Atomics.load(shared, HEARTBEAT));
  const phase = PHASES[Number(Atomics.load(shared, PHASE))] ?? 'loading';
  const answer = (request.method === 'GET' || request.method === 'HEAD' ? answerProbe(path, phase, heartbeatAgeMs, failure, stallMs) : undefined) ?? NOT_FOUND;
  const body = JSON.stringify(answer.body);
  response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
});
// A probe is one small GET: anything slower is not a kubelet, and may not hold a connection.
server.headersTimeout = 2_000;
server.requestTimeout = 2_000;
server.on('error', (error: NodeJS.ErrnoException) => parent.postMessage({ type: 'error', code: error.code, message: error.message } satisfies FromProbeWorker));
server.listen({ host, port, exclusive: true, reusePort }, () => {
  parent.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies FromProbeWorker);
});
