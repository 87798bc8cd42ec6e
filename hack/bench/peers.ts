// This runtime against the Python model servers people would otherwise deploy (issue 13): KServe's
// Python server and mosec serve the same ONNX file with the same tokenizer, truncation and
// softmax (hack/bench/peers/model.py), their answers are checked against ours, and one neutral
// load generator (wrk) drives each server in turn. Raw onnxruntime (Python, no HTTP) gives the
// ceiling. Not a test: it prints numbers.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { groupCpu, threadCpu, threadProfile } from './procfs.js';
import { readSentences } from './sentences.js';
import { BENCH_SERVER_FLAGS, startServer } from './server.js';

const USAGE = `usage: npm run bench:peers -- [--duration S] [--warmup S] [--connections 1,8,32,64] [--model DIR] [--data TSV]
  [--peer-threads N] [--mosec-max-batch N] [--mosec-wait-ms N] [--check N] [--rounds N] [--set section.key=value ...] [--out FILE.json]
  --rounds: measure raw onnxruntime and every server N times; the servers run throughout and take turns row by row, in alternating order;
    the req/s table shows each row's median round, each ratio is taken per round and shown as its median round and range
  --peer-threads: onnxruntime intra-op threads in each peer worker and raw process (default 1)
  --set: runtime setting for our server only (ours runs its defaults otherwise)`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '1,8,32,64' },
    model: { type: 'string', default: '../shared/models/sst2-bert-mini-en' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    'peer-threads': { type: 'string', default: '1' },
    'mosec-max-batch': { type: 'string', default: '8' },
    'mosec-wait-ms': { type: 'string', default: '1' },
    check: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    set: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const duration = Number(args.duration);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const CONNECTIONS = args.connections.split(',').map(Number);
const cores = availableParallelism();
const PEERS_DIR = fileURLToPath(new URL('../../../hack/bench/peers/', import.meta.url));
const SETUP = fileURLToPath(new URL('../../../hack/bench/peers-setup.sh', import.meta.url));
// The peers run from their own directory: absolute paths.
const modelDir = resolve(args.model);
const onnxFile = join(modelDir, 'onnx', 'model.onnx');
const sentences = readSentences(args.data).map((s) => s.replace(/\s+/g, ' '));
const work = mkdtempSync(join(tmpdir(), 'bench-peers-'));
const sentencesFile = join(work, 'sentences.txt');
writeFileSync(sentencesFile, `${sentences.join('\n')}\n`);

const command = ['npm run bench:peers --', ...process.argv.slice(2)].join(' ');
console.log(`command: ${command}`);
console.log(`machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} at start`);
console.log(`model: ${onnxFile} (fp32); ${sentences.length} sentences from ${args.data}, one per request, bodies rotated; wrk, ${warmup} s warm-up + ${duration} s per row\n`);

const python = execFileSync('bash', [SETUP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
const peerEnv = { ...process.env, PEER_MODEL_DIR: modelDir, PEER_ONNX_FILE: onnxFile, PEER_INTRA_OP_THREADS: args['peer-threads'], PYTHONWARNINGS: 'ignore' };

interface Answer {
  label: string;
  scores: Record<string, number>;
}

interface Server {
  name: string;
  /** How it was configured, for the table's notes. */
  setup: string;
  path: string;
  body(text: string): string;
  answer(json: unknown): Answer;
  start(): Promise<{ url: string; stop(): Promise<void>; cpu(): number; threads?: () => ReturnType<typeof threadCpu> }>;
}

const ours = (name: string, extra: string[], setup: string): Server => ({
  name,
  setup,
  path: '/v1/sentiment',
  body: (text) => JSON.stringify({ text }),
  answer: (json) => {
    const result = (json as { results: { label: string; scores: { label: string; score: number }[] }[] }).results[0]!;
    return { label: result.label, scores: Object.fromEntries(result.scores.map((s) => [s.label, s.score])) };
  },
  start: async () => {
    const child = await startServer([...BENCH_SERVER_FLAGS, '--logging.level=info', `--model.path=${args.model}`, '--model.quantization=none', ...extra, ...args.set.map((s) => `--${s}`)]);
    const threads = (): ReturnType<typeof threadCpu> => threadCpu(child.pid);
    return { url: child.url, stop: () => child.stop(), cpu: () => [...threads().values()].reduce((sum, t) => sum + t.seconds, 0), threads };
  },
});

const SERVERS: Server[] = [
  ours('this runtime', [], 'defaults (sessions, threads and batch size derived on the machine), result cache off'),
  ours('this runtime, batching off', ['--batching.maxBatchSize=1'], 'batching.maxBatchSize=1'),
  {
    name: 'KServe 0.21 (v1 predict)',
    setup: `--workers ${cores} (one uvicorn process per core, as KServe's docs advise for CPU-bound models), inference in the executor off the event loop, access and latency logs off, gRPC off`,
    path: '/v1/models/sentiment:predict',
    body: (text) => JSON.stringify({ instances: [text] }),
    answer: (json) => (json as { predictions: Answer[] }).predictions[0]!,
    start: async () => {
      const port = await freePort();
      return startPython(['kserve_server.py', `--http_port=${port}`, `--workers=${cores}`, '--enable_grpc=false', '--enable_latency_logging=false', '--log_config_file=kserve-logging.json'], {}, port, '/v1/models/sentiment');
    },
  },
  {
    name: 'mosec 0.9.8 (dynamic batching)',
    setup: `${cores} inference workers (one per core), max_batch_size ${args['mosec-max-batch']}, max_wait_time ${args['mosec-wait-ms']} ms`,
    path: '/inference',
    body: (text) => JSON.stringify({ text }),
    answer: (json) => json as Answer,
    start: async () => {
      const port = await freePort();
      return startPython(['mosec_server.py', `--port=${port}`, '--address=127.0.0.1', '--log-level=warning'], { PEER_WORKERS: String(cores), PEER_MAX_BATCH: args['mosec-max-batch'], PEER_MAX_WAIT_MS: args['mosec-wait-ms'] }, port, '/');
    },
  },
];

interface Row {
  connections: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /** Cores' worth of CPU: the server (all its processes) and the whole machine. */
  serverCores: number;
  machineCores: number;
  threads?: { name: string; threads: number; cores: number }[];
}

interface RawRun {
  procs: number;
  batch: number;
  sentencesPerSec: number;
  p50Ms: number;
}

const rawPairs = [`1:1`, ...[1, 8, 32].map((b) => `${cores}:${b}`)];
/** The ceiling, measured again in every round: this machine's speed drifts within minutes, and a ceiling from another moment would not compare. */
function measureRaw(round: number): RawRun[] {
  console.log(`raw onnxruntime (Python: tokenize + pad + run + softmax, no HTTP)${rounds > 1 ? ` (round ${round + 1})` : ''} ...`);
  return execFileSync(python, [join(PEERS_DIR, 'raw.py'), sentencesFile, String(duration), rawPairs.join(',')], { cwd: PEERS_DIR, env: peerEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: rawPairs.length * (duration + 60) * 1000 })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RawRun);
}

type Running = Awaited<ReturnType<Server['start']>>;

/** A started server: its answers to the check sentences and the request bodies wrk sends it. */
interface Started {
  running: Running;
  answers: Answer[];
  bodies: string;
}

async function start(server: Server): Promise<Started> {
  const running = await server.start();
  const answers: Answer[] = [];
  for (const text of sentences.slice(0, Number(args.check))) {
    const response = await fetch(`${running.url}${server.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: server.body(text) });
    if (!response.ok) throw new Error(`${server.name} answered ${response.status}: ${await response.text()}`);
    answers.push(server.answer(await response.json()));
  }
  const bodies = join(work, `bodies-${SERVERS.indexOf(server)}.txt`);
  writeFileSync(bodies, `${sentences.map(server.body).join('\n')}\n`);
  return { running, answers, bodies };
}

async function measureRow(server: Server, { running, bodies }: Started, connections: number): Promise<Row> {
  if (warmup > 0) await wrk(running.url, server.path, bodies, connections, warmup);
  const threadsBefore = running.threads?.();
  const cpuBefore = running.cpu();
  const machineBefore = machineBusy();
  const started = performance.now();
  const result = await wrk(running.url, server.path, bodies, connections, duration);
  const wall = (performance.now() - started) / 1000;
  return {
    connections,
    requestsPerSec: (result.requests - result.non2xx) / (result.durationUs / 1e6),
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    failed: result.non2xx + result.socketErrors + result.timeouts,
    serverCores: (running.cpu() - cpuBefore) / wall,
    machineCores: (machineBusy() - machineBefore) / wall,
    ...(threadsBefore ? { threads: threadProfile(threadsBefore, running.threads!(), wall) } : {}),
  };
}

// Every server runs for the whole benchmark and the servers take turns row by row, so the rows
// compared in one ratio are measured within seconds of each other: this machine's speed drifts
// by a quarter within minutes, more than the gaps the targets ask for. An idle server costs
// nothing (each row reports what other processes used).
const started = new Map<Server, Started>();
/** Per round, per server, one row per client count. */
const perRound: Map<Server, Row[]>[] = [];
const rawRounds: RawRun[][] = [];
try {
  for (const server of SERVERS) {
    console.log(`starting ${server.name} ...`);
    started.set(server, await start(server));
  }
  for (let round = 0; round < rounds; round++) {
    rawRounds.push(measureRaw(round));
    const rows = new Map<Server, Row[]>(SERVERS.map((server) => [server, []]));
    for (const [index, connections] of CONNECTIONS.entries()) {
      // Alternating order, so no server always runs first (or always right after our own).
      const order = (round + index) % 2 === 0 ? SERVERS : [...SERVERS].reverse();
      for (const server of order) rows.get(server)!.push(await measureRow(server, started.get(server)!, connections));
    }
    for (const server of SERVERS) console.log(`  ${server.name}${rounds > 1 ? ` (round ${round + 1})` : ''}, req/s: ${rows.get(server)!.map((r) => `${r.connections} clients ${r.requestsPerSec.toFixed(0)}`).join(', ')}`);
    perRound.push(rows);
  }
} finally {
  for (const { running } of started.values()) await running.stop();
}
/** Per process and batch count, the round with the median sentences/s (the lower middle one for an even count). */
const raw = rawPairs.map((_, i) => median(rawRounds.map((runs) => runs[i]!), (run) => run.sentencesPerSec));
/** Per server and client count, the round with the median req/s (the lower middle one for an even count). */
const results = SERVERS.map((server) => {
  const rows = CONNECTIONS.map((_, i) => median(perRound.map((round) => round.get(server)![i]!), (row) => row.requestsPerSec));
  const reference = started.get(SERVERS[0]!)!.answers;
  return { server, rows, agreement: agree(reference, started.get(server)!.answers) };
});

const peers = results.slice(2);
const at = (rows: Row[], c: number): Row => rows.find((r) => r.connections === c)!;
const lines = [
  `| req/s at clients | ${CONNECTIONS.join(' | ')} | p50 ms at 1 | answers vs ours |`,
  `|---|${CONNECTIONS.map(() => '---:').join('|')}|---:|---|`,
  ...results.map(({ server, rows, agreement }) => `| ${server.name} | ${rows.map((r) => `${r.requestsPerSec.toFixed(0)}${r.failed ? ` (${r.failed} failed)` : ''}`).join(' | ')} | ${at(rows, 1).p50Ms.toFixed(2)} | ${agreement} |`),
  ...raw.map((r) => `| raw onnxruntime, ${r.procs} process${r.procs > 1 ? 'es' : ''}, batch ${r.batch} (sentences/s, no HTTP) | ${r.sentencesPerSec.toFixed(0)} |${CONNECTIONS.slice(1).map(() => ' |').join('')} ${r.p50Ms.toFixed(2)} per call | - |`),
];
const rawBest = raw.filter((r) => r.procs === cores).reduce((a, b) => (b.sentencesPerSec > a.sentencesPerSec ? b : a));
const roundIndexes = perRound.map((_, round) => round);
const rowOf = (server: Server, round: number, c: number): Row => at(perRound[round]!.get(server)!, c);
/** In one round, the peer that served most at `c` clients. */
const bestPeer = (round: number, c: number): { server: Server; rps: number } =>
  peers.map(({ server }) => ({ server, rps: rowOf(server, round, c).requestsPerSec })).reduce((a, b) => (b.rps > a.rps ? b : a));
const rawOf = (round: number, procs: number, batch: number): RawRun => rawRounds[round]!.find((r) => r.procs === procs && r.batch === batch)!;
const [oursServer, offServer] = SERVERS as [Server, Server];
const oursRows = results[0]!.rows;
/** Each ratio is taken in every round from that round's rows alone, then summarized. */
interface Ratio {
  name: string;
  perRound: number[];
  target: string;
  meets(value: number): boolean;
}
const ratios: Ratio[] = [
  ...CONNECTIONS.map((c) => {
    const target = c === 1 ? 1 : 1.3;
    const winners = new Set(roundIndexes.map((round) => bestPeer(round, c).server.name));
    return {
      name: `ours / best peer (${[...winners].join(' or ')}), ${c} client${c > 1 ? 's' : ''}`,
      perRound: roundIndexes.map((round) => rowOf(oursServer, round, c).requestsPerSec / bestPeer(round, c).rps),
      target: `>= ${target}`,
      meets: (value: number) => value >= target,
    };
  }),
  {
    name: `ours at its best / raw onnxruntime at its best (${rawBest.procs} processes, batch ${rawBest.batch})`,
    perRound: roundIndexes.map((round) => Math.max(...perRound[round]!.get(oursServer)!.map((r) => r.requestsPerSec)) / rawOf(round, rawBest.procs, rawBest.batch).sentencesPerSec),
    target: '>= 0.95',
    meets: (value: number) => value >= 0.95,
  },
  ...(CONNECTIONS.includes(1)
    ? [{ name: 'ours p50 at 1 client - raw batch-1 call p50, ms', perRound: roundIndexes.map((round) => rowOf(oursServer, round, 1).p50Ms - rawOf(round, 1, 1).p50Ms), target: '<= 1', meets: (value: number) => value <= 1 }]
    : []),
  ...CONNECTIONS.map((c) => ({
    name: `ours batching on / off, ${c} client${c > 1 ? 's' : ''}`,
    perRound: roundIndexes.map((round) => rowOf(oursServer, round, c).requestsPerSec / rowOf(offServer, round, c).requestsPerSec),
    target: '>= 1 (0.97 within noise)',
    meets: (value: number) => value >= 0.97,
  })),
];
const summary = ratios.map((ratio) => {
  const value = median(ratio.perRound, (v) => v);
  return { name: ratio.name, value, low: Math.min(...ratio.perRound), high: Math.max(...ratio.perRound), roundsMet: ratio.perRound.filter(ratio.meets).length, target: ratio.target, met: ratio.meets(value) };
});
console.log(`\n${lines.join('\n')}\n`);
console.log(`ratios taken round by round (rows measured seconds apart), median round and lowest-highest of ${rounds}:`);
console.log(
  [
    '| ratio | median round | rounds | target | met (rounds met) |',
    '|---|---:|---:|---|---|',
    ...summary.map((r) => `| ${r.name} | ${r.value.toFixed(2)} | ${r.low.toFixed(2)}-${r.high.toFixed(2)} | ${r.target} | ${r.met ? 'yes' : 'NO'} (${r.roundsMet} of ${rounds}) |`),
  ].join('\n'),
);
console.log('\nCPU, cores\' worth (1.00 = one core busy): server (all its processes and threads) / whole machine');
console.log([`| server | ${CONNECTIONS.map((c) => `${c} clients`).join(' | ')} |`, `|---|${CONNECTIONS.map(() => '---').join('|')}|`, ...results.map(({ server, rows }) => `| ${server.name} | ${rows.map((r) => `${r.serverCores.toFixed(2)} / ${r.machineCores.toFixed(2)}`).join(' | ')} |`)].join('\n'));
console.log('\nOur server\'s CPU by thread (cores\' worth; threads of one name summed, their count in brackets):');
for (const r of oursRows) console.log(`  ${r.connections} client${r.connections > 1 ? 's' : ''}: ${r.threads!.filter((t) => t.cores >= 0.005).map((t) => `${t.name} [${t.threads}] ${t.cores.toFixed(2)}`).join(', ')}`);
console.log('\nconfigurations:');
for (const { server } of results) console.log(`  ${server.name}: ${server.setup}`);
console.log(`  peers and raw: onnxruntime ${args['peer-threads']} intra-op thread(s) per process, spinning off, graph optimization all; tokenizers with truncation to the model's positions, no padding (padded per batch to the longest row)`);
const busy = Math.max(...results.flatMap((r) => r.rows.map((row) => row.machineCores - row.serverCores)));
console.log(`\nother processes (wrk included) used up to ${busy.toFixed(2)} cores during a row; on a shared machine read the ratios, not the absolute figures`);
if (args.out) writeFileSync(args.out, `${JSON.stringify({ command, cores, raw, results: results.map((r) => ({ name: r.server.name, setup: r.server.setup, agreement: r.agreement, rows: r.rows })), rounds: perRound.map((round) => Object.fromEntries([...round].map(([server, rows]) => [server.name, rows]))), ratios: summary }, null, 2)}\n`);
const failedRows = perRound.some((round) => [...round.values()].some((rows) => rows.some((row) => row.failed > 0)));
if (failedRows || results.some((r) => !r.agreement.startsWith('agree'))) process.exitCode = 1;

/** The lower middle item by `key` (the median for an odd count). */
function median<T>(items: T[], key: (item: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)]!;
}

function agree(expected: Answer[], actual: Answer[]): string {
  let labels = 0;
  let worst = 0;
  expected.forEach((e, i) => {
    const a = actual[i]!;
    if (a.label !== e.label) labels++;
    for (const label of Object.keys(e.scores)) worst = Math.max(worst, Math.abs((a.scores[label] ?? Number.NaN) - e.scores[label]!));
  });
  return labels === 0 && worst < 1e-4 ? `agree on ${expected.length} (max score diff ${worst.toExponential(1)})` : `DIFFER: ${labels} labels, max score diff ${worst}`;
}

/**
 * Asynchronous, so this process keeps reading the servers' output while a row runs: mosec logs a
 * warning per request whose client left (every wrk run ends with some), and a pipe left unread
 * through the rows filled and blocked it, so it answered nothing in the 64-client row.
 */
async function wrk(url: string, path: string, bodies: string, connections: number, seconds: number) {
  const { stdout: output } = await promisify(execFile)('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout=10s', '-s', join(PEERS_DIR, 'wrk.lua'), url], {
    env: { ...process.env, WRK_PATH: path, WRK_BODIES: bodies },
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
  });
  const line = output.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${output}`);
  return JSON.parse(line.slice('WRK_RESULT '.length)) as { requests: number; durationUs: number; p50Us: number; p99Us: number; non2xx: number; socketErrors: number; timeouts: number };
}

/** Busy CPU seconds of the whole machine. */
function machineBusy(): number {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!) * 0.01;
}

async function startPython(script: string[], env: Record<string, string>, port: number, readyPath: string) {
  const child: ChildProcess = spawn(python, script, { cwd: PEERS_DIR, env: { ...peerEnv, ...env }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const onExit = (): void => killGroup('SIGKILL');
  process.on('exit', onExit);
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script[0]} exited (code ${child.exitCode})\n${stderr}`);
    if (performance.now() > deadline) {
      killGroup('SIGKILL');
      throw new Error(`${script[0]} not ready within 120 s\n${stderr}`);
    }
    const ok = await fetch(`${url}${readyPath}`).then((r) => r.status < 500, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    url,
    cpu: () => groupCpu(child.pid!),
    stop: async () => {
      killGroup('SIGTERM');
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      const force = setTimeout(() => killGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
      // Worker processes may outlive the parent by a moment; none may hold the CPU during the next server's rows.
      killGroup('SIGKILL');
      process.off('exit', onExit);
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
