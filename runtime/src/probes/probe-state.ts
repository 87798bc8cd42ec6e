/**
 * What the main thread tells the probe listener, through shared memory so that reading it costs
 * the listener's thread nothing from the main thread: when the main event loop last ran a timer
 * (its heartbeat) and the phase it is in.
 */
export const PHASES = ['loading', 'ready', 'draining', 'failed'] as const;
export type ProbePhase = (typeof PHASES)[number];

/** Slot 0: heartbeat (Date.now() ms); slot 1: index into PHASES. */
export const HEARTBEAT = 0;
export const PHASE = 1;

export function probeStateBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
}

/**
 * How long the main event loop may go without running a timer before the probes report it stuck.
 * Far above the lag overload causes (admission refuses in microseconds; the bench's worst event-loop
 * lag under 3x overload stays under a second) and far below the kubelet's patience
 * (liveness: 3 misses 10 s apart), so only a loop that is really stuck (a synchronous loop, a
 * deadlock in native code) gets its pod restarted.
 */
export const STALL_MS = 10_000;

export interface ProbeAnswer {
  status: number;
  body: { status: string; error?: string };
}

/** The probe answers for a state and a time: pure, so the rules are tested without threads. */
export function answerProbe(path: string, phase: ProbePhase, heartbeatAgeMs: number, failure: string | undefined, stallMs = STALL_MS): ProbeAnswer | undefined {
  const stalled = heartbeatAgeMs > stallMs;
  switch (path) {
    case '/healthz':
      if (phase === 'failed') return { status: 503, body: { status: 'failed', ...(failure === undefined ? {} : { error: failure }) } };
      if (stalled) return { status: 503, body: { status: 'stalled', error: `the event loop has not run for ${Math.round(heartbeatAgeMs)} ms` } };
      return { status: 200, body: { status: 'ok' } };
    case '/readyz':
      // Readiness does not follow load: a busy pod sheds with 429, and every pod of an overloaded
      // model leaving its Service at once would turn overload into an outage.
      if (stalled) return { status: 503, body: { status: 'stalled' } };
      return phase === 'ready' ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: phase } };
    default:
      return undefined;
  }
}
