/**
 * What the node status is computed from, read each time: capacity (CPUs, memory, the root dir's
 * filesystem, maxPods), what is still available of memory and disk (the signals of the
 * kubelet's hard eviction thresholds), whether the container runtime answers, and nodeInfo.
 */
import { readFile, statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
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
}

export class NodeObserver {
  readonly #o: NodeObserverOptions;
  /** While the runtime does not answer, nodeInfo keeps the version it last reported (as the kubelet keeps what a failed setter could not set). */
  #runtimeVersion = '';

  constructor(options: NodeObserverOptions) {
    this.#o = options;
  }

  async observe(): Promise<NodeObservation> {
    const [meminfo, fs] = await Promise.all([readFile('/proc/meminfo', 'utf8'), statfs(this.#o.rootDir)]);
    const notReadyReasons: string[] = [];
    try {
      this.#runtimeVersion = await this.#o.runtimeVersion();
    } catch (err) {
      notReadyReasons.push(`container runtime is down: ${errorMessage(err)}`);
    }
    return {
      capacity: { ...machineResources(fs), pods: this.#o.maxPods },
      memoryAvailableBytes: meminfoBytes(meminfo, 'MemAvailable') ?? totalmem(),
      nodefsAvailableBytes: fs.bavail * fs.bsize,
      notReadyReasons,
      system: await readNodeSystemInfo(this.#runtimeVersion),
    };
  }
}
