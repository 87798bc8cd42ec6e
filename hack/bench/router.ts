// The router's cost on the data path (issue 14, "Prove it"): the same runtime answering
// `POST /v1/sentiment` directly and through the router, at each client count, in one run on one
// machine, the two interleaved row by row so drift on a shared machine hits both alike. The router
// picks the model by header (its body streams through unread) and, as a third column, by the
// body's JSON "model" field (read, parsed and rewritten). Then the cold start, 0 -> first answer:
// a request for a model with no replica is held by the router while a runtime process starts,
// loads and warms up, and is answered once the router learns of it; split into the parts the
// router's activator reports (router/src/cold-start.ts) from the runtime's own /metrics. One
// machine has no scheduler and no image to pull: the e2e on a real node (test/e2e/node.test.ts)
// measures those. Not a test: it prints numbers.
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { COLD_START_PARTS, coldStartParts, runtimeStartup, type ColdStartParts } from '../../router/src/cold-start.js';
import { readSentences } from './sentences.js';
import { BENCH_SERVER_FLAGS, startServer, type ServerChild } from './server.js';
import { cpuSample, cpuShare, percentile } from './stats.js';

const USAGE = `usage: npm run bench:router -- [--duration S] [--warmup S] [--connections 1,8,32,64] [--cold-starts N] [--model DIR] [--data TSV] [--out FILE.json]
  [--set section.key=value ...]  runtime setting, e.g. --set session.intraOpThreads=1`;
const P50_OVERHEAD_TARGET_MS = 0.5;
const THROUGHPUT_TARGET = 0.9;
const TARGET_CLIENTS = 32;
const MODEL = 'sentiment';
/** The model the router starts with no replica of, for the cold starts. */
const ASLEEP = 'asleep';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '1,8,32,64' },
    'cold-starts': { type: 'string', default: '3' },
    model: { type: 'string', default: 'models/sst2-bert-mini-en' },
    data: { type: 'string', default: '../shared/data/sst2/dev.tsv' },
    out: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) exit(USAGE, 0);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const CONNECTIONS = args.connections.split(',').map(Number);
const COLD_STARTS = Number(args['cold-starts']);
if (!(duration > 0) || !(warmup >= 0) || CONNECTIONS.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(COLD_STARTS) || COLD_STARTS < 0) {
  exit(`--duration > 0, --warmup >= 0 (seconds), --connections whole numbers >= 1, --cold-starts a whole number >= 0\n${USAGE}`);
}
if (!existsSync(args.data)) exit(`sentences file ${args.data} not found: the benchmark reads SST-2 dev sentences (../shared/data/sst2/dev.tsv); pass --data FILE`);
const sentences = readSentences(args.data);

type Path = 'direct' | 'router, header' | 'router, JSON field';
const PATHS: Path[] = ['direct', 'router, header', 'router, JSON field'];

interface Row {
  path: Path;
  connections: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  /** Cores' worth of CPU the router process used (0 for direct), the load generator, everything else. */
  cpu: { client: number; router: number; other: number };
}

const command = ['node', relative(process.cwd(), process.argv[1]!), ...process.argv.slice(2)].join(' ');
const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg1m: loadavg()[0]! };
console.log(`command: ${command}`);
console.log(`machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}, load average ${machine.loadavg1m.toFixed(2)} at start`);
console.log(`model: ${args.model}; ${sentences.length} sentences from ${args.data}; ${duration} s per row after ${warmup} s warm-up; result cache off\n`);

const runtime = await startServer([...BENCH_SERVER_FLAGS, '--logging.level=info', `--model.path=${args.model}`, `--model.name=${MODEL}`, ...args.set.map((s) => `--${s}`)]);
const router = await startServer([runtime.url, MODEL, ASLEEP], [fileURLToPath(new URL('./router-server.js', import.meta.url))]);
const rows: Row[] = [];
const coldStarts: ColdStart[] = [];
try {
  for (const [i, connections] of CONNECTIONS.entries()) {
    // Rotated per client count, so no path always runs first (on a warmer or a quieter machine).
    for (const path of [...PATHS.slice(i % PATHS.length), ...PATHS.slice(0, i % PATHS.length)]) {
      console.log(`${path}, ${connections} clients ...`);
      if (warmup > 0) await load(path, connections, warmup);
      rows.push(await load(path, connections, duration));
    }
  }
  for (let i = 0; i < COLD_STARTS; i++) {
    console.log(`cold start ${i + 1} of ${COLD_STARTS} ...`);
    coldStarts.push(await coldStart());
  }
} finally {
  await router.stop();
  await runtime.stop();
}

const at = (path: Path, connections: number) => rows.find((r) => r.path === path && r.connections === connections)!;
console.log(`\n| clients | path | req/s | p50 ms | p99 ms | router CPU (cores) | other CPU | throughput vs direct | p50 overhead ms |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|`);
for (const connections of CONNECTIONS) {
  const direct = at('direct', connections);
  for (const path of PATHS) {
    const r = at(path, connections);
    const vs = path === 'direct' ? '' : (r.requestsPerSec / direct.requestsPerSec).toFixed(3);
    const overhead = path === 'direct' ? '' : (r.p50Ms - direct.p50Ms).toFixed(2);
    console.log(`| ${connections} | ${path} | ${r.requestsPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpu.router.toFixed(2)} | ${r.cpu.other.toFixed(2)} | ${vs} | ${overhead} |`);
  }
}
const verdicts: string[] = [];
if (CONNECTIONS.includes(1)) {
  const overhead = at('router, header', 1).p50Ms - at('direct', 1).p50Ms;
  verdicts.push(`p50 overhead at 1 client (header): ${overhead.toFixed(2)} ms (target <= ${P50_OVERHEAD_TARGET_MS}): ${overhead <= P50_OVERHEAD_TARGET_MS ? 'met' : 'missed'}`);
}
if (CONNECTIONS.includes(TARGET_CLIENTS)) {
  const ratio = at('router, header', TARGET_CLIENTS).requestsPerSec / at('direct', TARGET_CLIENTS).requestsPerSec;
  verdicts.push(`throughput through the router / direct at ${TARGET_CLIENTS} clients (header): ${ratio.toFixed(3)} (target >= ${THROUGHPUT_TARGET}): ${ratio >= THROUGHPUT_TARGET ? 'met' : 'missed'}`);
}
console.log(`\n${verdicts.join('\n')}`);
if (coldStarts.length > 0) {
  const shown = COLD_START_PARTS.filter((part) => part !== 'scheduling');
  console.log(`\ncold start, 0 -> first answer (scheduling: none on one machine; containerStart: spawn to the process's start):`);
  console.log(`| run | 0 -> first answer s | ${shown.join(' s | ')} s |\n|---:|---:|${shown.map(() => '---:').join('|')}|`);
  const cell = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
  for (const [i, c] of coldStarts.entries()) console.log(`| ${i + 1} | ${c.seconds.toFixed(2)} | ${shown.map((part) => cell(c.parts[part])).join(' | ')} |`);
  const median = (values: number[]) => percentile(values, 50);
  console.log(`| median | ${median(coldStarts.map((c) => c.seconds)).toFixed(2)} | ${shown.map((part) => cell(median(coldStarts.flatMap((c) => c.parts[part] ?? [])))).join(' | ')} |`);
}
const failed = rows.filter((r) => r.failed > 0);
if (failed.length > 0) {
  console.log(`\nFAILED: not every response was 200 (${failed.map((r) => `${r.path} at ${r.connections}: ${r.failed}`).join('; ')})`);
  process.exitCode = 1;
}
const coldFailed = coldStarts.filter((c) => c.status !== 200);
if (coldFailed.length > 0) {
  console.log(`\nFAILED: ${coldFailed.length} held request(s) of the cold starts not answered 200 (${coldFailed.map((c) => c.status).join(', ')})`);
  process.exitCode = 1;
}
if (args.out) {
  writeFileSync(args.out, `${JSON.stringify({ command, machine, model: args.model, duration, warmup, rows, verdicts, coldStarts }, null, 2)}\n`);
  console.log(`\nwrote ${args.out}`);
}

interface ColdStart {
  seconds: number;
  parts: ColdStartParts;
  status: number;
}

/**
 * One request for the model with no replica, sent as its runtime process is spawned (the scale-up),
 * held by the router until the process is ready and the router is told, as discovery tells it of a
 * ready endpoint. The parts come from the same split the activator writes to status.
 */
async function coldStart(): Promise<ColdStart> {
  const startedAt = Date.now();
  const answer = fetch(`${router.url}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: ASLEEP, text: sentences[0] }) })
    .then(async (res) => ({ status: res.status, at: Date.now(), body: await res.text() }));
  const replica = await startServer([...BENCH_SERVER_FLAGS, '--logging.level=info', `--model.path=${args.model}`, `--model.name=${ASLEEP}`, ...args.set.map((s) => `--${s}`)]);
  try {
    router.tell(`${ASLEEP} ${replica.url}`);
    const answered = await answer;
    const startup = runtimeStartup(await (await fetch(`${replica.url}/metrics`)).text());
    // No scheduler: the process is "scheduled" the moment it is spawned.
    const parts = coldStartParts({ startedAt, readyAt: answered.at, scheduledAt: startedAt, ...(startup ? { runtime: startup } : {}) });
    return { seconds: Math.round((answered.at - startedAt) / 10) / 100, parts, status: answered.status };
  } finally {
    router.tell(`${ASLEEP} -`);
    await replica.stop();
  }
}

/** One sentence per request; each connection starts at its own offset of the list, as in bench:runtime. */
async function load(path: Path, connections: number, seconds: number): Promise<Row> {
  const target: ServerChild = path === 'direct' ? runtime : router;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(path === 'router, header' ? { 'sentiment-model': MODEL } : {}) };
  const bodies = sentences.map((text) => JSON.stringify(path === 'router, JSON field' ? { model: MODEL, text } : { text }));
  let nextClient = 0;
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let before: ReturnType<typeof cpuSample> | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: `${target.url}/v1/sentiment`, method: 'POST', headers, connections, duration: seconds,
      setupClient: (client) => {
        const offset = Math.floor((nextClient++ * bodies.length) / connections);
        client.setRequests([...bodies.slice(offset), ...bodies.slice(0, offset)].map((body) => ({ method: 'POST', path: '/v1/sentiment', headers, body })));
      },
    }, (error: unknown, r) => (error ? reject(error as Error) : resolve(r)));
    instance.on('start', () => (before = cpuSample(router.pid)));
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode === 200) {
        ok++;
        latencies.push(ms);
      } else failed++;
    });
  });
  const share = cpuShare(before!, cpuSample(router.pid));
  return {
    path, connections, requestsPerSec: ok / result.duration, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), ok,
    failed: failed + result.errors + result.timeouts,
    cpu: { client: share.client, router: path === 'direct' ? 0 : share.server, other: share.other + (path === 'direct' ? share.server : 0) },
  };
}

function exit(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}
