// Benchmark of the autoscaling decision (issue 4, "Benchmark"): replays a load step and a constant
// noisy load through decide() against simulated replicas, in simulated time. Not a test: it prints
// numbers. The replica model is deliberately simple: a new replica becomes ready after a fixed
// delay, a removed one stops at once, and the load splits evenly across ready replicas.
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import { Autoscaling } from '../../operator/src/api/v1alpha1/spec.js';
import type { AutoscalerState } from '../../operator/src/api/v1alpha1/index.js';
import { type AutoscalingSettings, decide, initialState } from '../../operator/src/autoscaler/decide.js';

const USAGE = `usage: npm run bench:autoscale -- [--tick S] [--ready-delay S] [--step X] [--noisy X ...] [--noise F] [--seed N]
  [--set key=value ...]  spec.autoscaling field, e.g. --set scaleDownDelaySeconds=300 (defaults: the CRD's, with maxReplicas=100)`;

const { values: args } = parseArgs({
  options: {
    tick: { type: 'string', default: '2' },
    'ready-delay': { type: 'string', default: '20' },
    step: { type: 'string', default: '50' },
    noisy: { type: 'string', multiple: true, default: ['7.5', '8'] },
    noise: { type: 'string', default: '1' },
    'noisy-seconds': { type: 'string', default: '1800' },
    seed: { type: 'string', default: '1' },
    set: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) exit(USAGE, 0);
const tick = Number(args.tick);
const readyDelay = Number(args['ready-delay']);
const step = Number(args.step);
const noisyLoads = args.noisy.map(Number);
const noise = Number(args.noise);
const noisySeconds = Number(args['noisy-seconds']);
const seed = Number(args.seed);
if (![tick, step, noisySeconds].every((n) => n > 0) || !(readyDelay >= 0) || !noisyLoads.every((n) => n > 0) || !(noise >= 0) || !Number.isInteger(seed)) {
  exit(`--tick, --step, --noisy and --noisy-seconds must be > 0, --ready-delay >= 0, --noise >= 0, --seed an integer\n${USAGE}`);
}
const settings = readSettings(args.set);

interface Tick {
  at: number;
  desired: number;
  ready: number;
  changed: boolean;
}

/** Replicas that the decisions resize; the bench's stand-in for a Deployment. */
class Replicas {
  private readyAt: number[];
  constructor(count: number) {
    this.readyAt = Array.from({ length: count }, () => 0);
  }
  ready(now: number): number {
    return this.readyAt.filter((t) => t <= now).length;
  }
  scaleTo(n: number, now: number): void {
    // Like a ReplicaSet: the newest (least ready) go first.
    this.readyAt.sort((a, b) => a - b);
    while (this.readyAt.length > n) this.readyAt.pop();
    while (this.readyAt.length < n) this.readyAt.push(now + readyDelay);
  }
}

/** Runs the loop for `seconds`; `load(t)` is the total demand in metric units (in-flight requests). */
function simulate(seconds: number, load: (t: number) => number, random: () => number): Tick[] {
  const replicas = new Replicas(settings.minReplicas);
  let state: AutoscalerState = initialState();
  const ticks: Tick[] = [];
  for (let at = 0; at < seconds; at += tick) {
    const ready = replicas.ready(at);
    const perPod = ready === 0 ? 0 : load(at) / ready;
    const samples = new Map(Array.from({ length: ready }, (_, i) => [`pod-${i}`, inflight(perPod, random)] as const));
    const d = decide(state, { readyReplicas: ready, samples, settings }, at * 1000);
    state = d.state;
    replicas.scaleTo(d.desiredReplicas, at);
    ticks.push({ at, desired: d.desiredReplicas, ready, changed: d.changed });
  }
  return ticks;
}

/**
 * A pod's in-flight count around its share: with Poisson arrivals its spread is √share, and
 * `noise` scales that to model burstier clients. Spread that grows with √share, not with the
 * share, is what keeps one pod carrying the whole step from looking ±30% noisy.
 */
function inflight(share: number, random: () => number): number {
  const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.max(0, Math.round(share + noise * Math.sqrt(share) * gaussian));
}

// A fixed seed keeps runs comparable; the generator only has to be cheap and even.
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const t0 = performance.now();
const command = ['node', relative(process.cwd(), process.argv[1]!), ...process.argv.slice(2)].join(' ');
const s = settings;
console.log(`command: ${command}`);
console.log(
  `settings: target ${s.target} per replica, stable ${s.stableWindowSeconds} s, panic ${s.panicWindowSeconds} s at ${s.panicThreshold}x, ` +
    `scale-down delay ${s.scaleDownDelaySeconds} s, rate up ${s.maxScaleUpRate}x / down ${s.maxScaleDownRate}x, replicas ${s.minReplicas}..${s.maxReplicas}`,
);
console.log(
  `simulation: decision every ${tick} s, new replicas ready after ${readyDelay} s, load split evenly, ` +
    `each pod's in-flight drawn per tick with ${noise}x the spread of Poisson arrivals\n`,
);

// Load step: idle for a stable window, then step x target, then idle until long after the delay.
// The step lands between two decisions, as real load does, not exactly on one.
const idle = s.stableWindowSeconds + tick / 2;
const high = 300;
const stepEnd = idle + high;
const stepLoad = step * s.target;
const needed = Math.min(Math.ceil(stepLoad / s.target), s.maxReplicas);
const stepTicks = simulate(stepEnd + 900, (t) => (t >= idle && t < stepEnd ? stepLoad : 0), mulberry32(seed));
const after = (from: number, until: number, test: (t: Tick) => boolean) => stepTicks.find((t) => t.at >= from && t.at < until && test(t));
const since = (from: number, t: Tick | undefined) => (t === undefined ? 'never' : `${t.at - from} s`);
const firstUp = after(idle, stepEnd, (t) => t.changed);
const desiredNeeded = after(idle, stepEnd, (t) => t.desired >= needed);
const readyNeeded = after(idle, stepEnd, (t) => t.ready >= needed);
const highChanges = readyNeeded ? stepTicks.filter((t) => t.at > readyNeeded.at && t.at < stepEnd && t.changed).length : Number.NaN;
const firstDown = after(stepEnd, Infinity, (t) => t.desired < needed);
const backToMin = after(stepEnd, Infinity, (t) => t.desired === s.minReplicas);
const peak = Math.max(...stepTicks.map((t) => t.desired));

const rows: [string, string, string][] = [
  [`load step idle -> ${step}x target (${stepLoad}) -> idle`, '', ''],
  ['  first scale-up decision after the step', since(idle, firstUp), firstUp ? `to ${firstUp.desired}` : ''],
  [`  desired reaches ${needed} replicas`, since(idle, desiredNeeded), `peak ${peak}`],
  [`  ready reaches ${needed} replicas`, since(idle, readyNeeded), `ready delay ${readyDelay} s`],
  ['  scale changes while the step lasts, once ready', String(highChanges), `over ${readyNeeded ? stepEnd - readyNeeded.at : 0} s`],
  [`  first decision below ${needed} replicas after load stops`, since(stepEnd, firstDown), firstDown ? `to ${firstDown.desired}` : ''],
  [`  back to minReplicas (${s.minReplicas})`, since(stepEnd, backToMin), ''],
];

// Noisy constant load: settle for a stable window, the delay and the ready delay twice over, then count.
const settle = 2 * (s.stableWindowSeconds + s.scaleDownDelaySeconds + readyDelay);
rows.push([`constant noisy load, ${noisySeconds} s after ${settle} s settling`, '', '']);
for (const x of noisyLoads) {
  const ticks = simulate(settle + noisySeconds, () => x * s.target, mulberry32(seed));
  const measured = ticks.filter((t) => t.at >= settle);
  const sizes = [...new Set(measured.map((t) => t.desired))].sort((a, b) => a - b).join(', ');
  const changes = measured.filter((t) => t.changed).length;
  const where = Number.isInteger(x) ? ', on a replica boundary' : '';
  rows.push([`  ${x}x target${where}: scale changes (target 0)`, String(changes), `replicas ${sizes}`]);
}

const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
for (const [what, value, note] of rows) console.log(`${what.padEnd(width(0))}  ${value.padStart(width(1))}  ${note}`.trimEnd());
console.log(`\n(simulated time; ${(performance.now() - t0).toFixed(0)} ms wall)`);

function readSettings(pairs: string[]): AutoscalingSettings {
  const overrides: Record<string, number> = { maxReplicas: 100 };
  const fields = Object.keys(Autoscaling.properties);
  for (const pair of pairs) {
    const [key, value] = pair.split('=', 2);
    if (!key || value === undefined || !fields.includes(key) || !Number.isFinite(Number(value))) exit(`--set ${pair}: expected a numeric spec.autoscaling field=value\n${USAGE}`);
    overrides[key] = Number(value);
  }
  const spec = Value.Default(Autoscaling, { ...overrides, enabled: true });
  if (!Value.Check(Autoscaling, spec)) exit(`invalid settings: ${[...Value.Errors(Autoscaling, spec)].map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
  // The CRD's CEL rules, which a plain schema check does not run.
  const problems: string[] = [];
  if (spec.minReplicas > spec.maxReplicas) problems.push('minReplicas exceeds maxReplicas');
  if (spec.panicWindowSeconds > spec.stableWindowSeconds) problems.push('panicWindowSeconds exceeds stableWindowSeconds');
  if (spec.minReplicas < 1) problems.push('the builtin autoscaler needs minReplicas >= 1');
  if (problems.length > 0) exit(`invalid settings: ${problems.join('; ')}`);
  return spec;
}

function exit(message: string, code = 2): never {
  (code === 0 ? console.log : console.error)(message);
  process.exit(code);
}
