/**
 * What the node status is computed from, read each time: capacity (CPUs, memory, the root dir's
 * filesystem, maxPods), the pressure conditions node-pressure eviction raises, whether the
 * container runtime answers and its pod network is ready, and nodeInfo.
 */
import { statfs } from 'node:fs/promises';
import { errorMessage } from '../../common/api/errors.js';
import { machineResources } from './node-facts.js';
import type { NodeObservation } from './node-status.js';
import { readNodeSystemInfo } from './node-system-info.js';

/** A field of /proc/meminfo (MemAvailable, Inactive(file), ...), in bytes; undefined when the line is missing. */
export function meminfoBytes(meminfo: string, field: string): number | undefined {
  const escaped = field.replace(/[()]/g, '\\$&');
  const match = new RegExp(`^${escaped}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
  return match ? Number(match[1]) * 1024 : undefined;
}

export interface NodeObserverOptions {
  rootDir: string;
  maxPods: number;
  /** The runtime's version; rejects with why it does not answer. */
  runtimeVersion(): Promise<string>;
  /** The pressure conditions node-pressure eviction raises now. */
  pressure(): ReadonlySet<string>;
  /** Why pods cannot get a network yet (no pod subnet), or undefined when they can. */
  networkNotReady(): string | undefined;
}

export class NodeObserver {
  readonly #o: NodeObserverOptions;
  /** While the runtime does not answer, nodeInfo keeps the version it last reported (as the kubelet keeps what a failed setter could not set). */
  #runtimeVersion = '';

  constructor(options: NodeObserverOptions) {
    this.#o = options;
  }

  async observe(): Promise<NodeObservation> {
    const fs = await statfs(this.#o.rootDir);
    const notReadyReasons: string[] = [];
    try {
      this.#runtimeVersion = await this.#o.runtimeVersion();
    } catch (err) {
      notReadyReasons.push(`container runtime is down: ${errorMessage(err)}`);
    }
    const network = this.#o.networkNotReady();
    if (network) notReadyReasons.push(network);
    return {
      capacity: { ...machineResources(fs), pods: this.#o.maxPods },
      pressure: this.#o.pressure(),
      notReadyReasons,
      system: await readNodeSystemInfo(this.#runtimeVersion),
    };
  }
}
