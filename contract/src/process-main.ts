/** What a long-running component's main module hands to runProcess. */
export interface Component {
  /** How long a shutdown may take once a signal came, before the process ends the hard way. */
  shutdownLimitMs: number;
  start(stop: AbortSignal): Promise<{ done: Promise<unknown> }>;
}

/**
 * The process around the operator or the router: SIGTERM/SIGINT start the component's shutdown;
 * the exit code is 0 when it ended, 2 when it was misconfigured (one line, no stack trace, so a
 * pod's termination message reads as the cause) and 1 for anything unexpected.
 */
export async function runProcess(name: string, isMisconfiguration: (err: unknown) => err is Error, prepare: () => Component): Promise<never> {
  try {
    const component = prepare();
    const stop = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        stop.abort();
        setTimeout(() => process.exit(1), component.shutdownLimitMs).unref();
      });
    }
    const started = await component.start(stop.signal);
    await started.done;
    process.exit(0);
  } catch (err) {
    if (isMisconfiguration(err)) {
      console.error(`${name}: ${err.message}`);
      process.exit(2);
    }
    console.error(`${name}: unexpected error:`, err);
    process.exit(1);
  }
}
