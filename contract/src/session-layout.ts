/** How a serving process spreads its CPU over inference sessions. */
export interface SessionLayout {
  /** Sessions (each in its own worker thread) per serving process. */
  sessions: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads: number;
}

/**
 * Beyond this many sessions per process, more cores go to each session's intra-op threads
 * instead: every session holds its own copy of the model, and one event loop feeds them all.
 */
const MAX_DERIVED_SESSIONS = 4;

/**
 * The layout for `cores` of CPU (the pod's quota) shared by `processes` serving processes; a
 * non-zero `sessions` or `intraOpThreads` is kept as given and the other fills the rest.
 * Cores become sessions first: on short inputs one onnxruntime call splits poorly over several
 * threads (they wait on each other per operator), while separate sessions never wait on each other.
 */
export function sessionLayout(cores: number, processes: number, wanted: SessionLayout): SessionLayout {
  const perProcess = Math.max(1, Math.floor(cores / Math.max(1, processes)));
  if (wanted.sessions > 0 && wanted.intraOpThreads > 0) return wanted;
  if (wanted.intraOpThreads > 0) return { sessions: Math.max(1, Math.floor(perProcess / wanted.intraOpThreads)), intraOpThreads: wanted.intraOpThreads };
  const sessions = wanted.sessions > 0 ? wanted.sessions : Math.min(perProcess, MAX_DERIVED_SESSIONS);
  return { sessions, intraOpThreads: Math.max(1, Math.floor(perProcess / sessions)) };
}
