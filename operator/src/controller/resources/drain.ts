import type { Server } from '../../api/v1alpha1/index.js';

/** Margin for the process to exit after its drain limit, before the kubelet's SIGKILL. */
const EXIT_MARGIN_SECONDS = 5;

export interface DrainTiming {
  preStopSleepSeconds: number;
  terminationGracePeriodSeconds: number;
  runtimeDrainDelayMs: number;
  runtimeShutdownTimeoutMs: number;
}

/**
 * The one place that turns spec.server into the pod's shutdown timeline. The preStop sleep keeps
 * the pod serving while endpoints drop it, so the runtime's own drain delay is 0 (otherwise both
 * waits would add up); after SIGTERM the runtime has shutdownTimeout to finish in-flight work,
 * and the grace period, which counts from deletion, covers both.
 */
export function drainTiming(server: Server): DrainTiming {
  return {
    preStopSleepSeconds: server.drainDelaySeconds,
    terminationGracePeriodSeconds: server.drainDelaySeconds + server.shutdownTimeoutSeconds + EXIT_MARGIN_SECONDS,
    runtimeDrainDelayMs: 0,
    runtimeShutdownTimeoutMs: server.shutdownTimeoutSeconds * 1000,
  };
}
