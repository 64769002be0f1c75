/**
 * Probe results per container ID, one store per probe type (pkg/kubelet/prober/results). A set
 * that changes the stored result is reported to the listener; an equal one is not.
 */

export type ProbeType = 'liveness' | 'readiness' | 'startup';

/** Unknown is the startup probe's value until it has run. */
export type ProbeResult = 'Success' | 'Failure' | 'Unknown';

export interface ProbeResultUpdate {
  probeType: ProbeType;
  podUID: string;
  containerId: string;
  result: ProbeResult;
}

export class ProbeResults {
  readonly #results = new Map<string, ProbeResult>();
  readonly #probeType: ProbeType;
  readonly #onUpdate: (update: ProbeResultUpdate) => void;

  constructor(probeType: ProbeType, onUpdate: (update: ProbeResultUpdate) => void) {
    this.#probeType = probeType;
    this.#onUpdate = onUpdate;
  }

  get(containerId: string): ProbeResult | undefined {
    return this.#results.get(containerId);
  }

  set(containerId: string, result: ProbeResult, podUID: string): void {
    if (this.#results.get(containerId) === result) return;
    this.#results.set(containerId, result);
    this.#onUpdate({ probeType: this.#probeType, podUID, containerId, result });
  }

  remove(containerId: string): void {
    this.#results.delete(containerId);
  }
}
