/**
 * What one run of a probe handler found (pkg/probe): Warning counts as a success that is worth
 * an event (a redirect to another host). A handler that could not run at all throws instead:
 * the prober discards that run, as the kubelet discards prober errors.
 */
export type ProbeRunResult = 'Success' | 'Warning' | 'Failure' | 'Unknown';

export interface ProbeRun {
  result: ProbeRunResult;
  /** What the handler said: command output, response body, or why it failed. */
  output: string;
}

/**
 * A handler that errored after it got somewhere: the run is discarded all the same, but the
 * kubelet's event names the result the handler gave with its error (an httpGet whose body could
 * not be read: "failure"), where a handler that could not run at all gives "unknown".
 */
export class ProbeRunError extends Error {
  readonly result: ProbeRunResult;

  constructor(message: string, result: ProbeRunResult) {
    super(message);
    this.name = 'ProbeRunError';
    this.result = result;
  }
}

/** The kubelet reads at most 10 KiB of probe output (maxRespBodyLength, exec maxReadLength). */
export const MaxProbeOutputBytes = 10 * 1024;
