// The IPC protocol between the supervisor and the serving processes it forks.

export const METRICS_REQUEST = 'sentiment-runtime:metrics';
export const METRICS_REPLY = 'sentiment-runtime:metrics-reply';
export const WORKER_READY = 'sentiment-runtime:ready';
/** The port every serving process binds, resolved by the supervisor when server.port is 0. */
export const PORT_ENV = 'SENTIMENT_PROCESS_PORT';

export type Message =
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_REPLY; id: number; text?: string; error?: string }
  | { type: typeof WORKER_READY; url: string };
