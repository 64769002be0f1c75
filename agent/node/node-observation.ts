/**
 * What the node status is computed from, read each time: capacity (CPUs, memory, the root dir's
 * filesystem, maxPods), what is still available of memory and disk (the signals of the
 * kubelet's hard eviction thresholds), and whether the container runtime answers.
 */
import { readFile, statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { errorMessage } from '../../common/api/errors.js';
import { machineResources } from './node-facts.js';
import type { NodeObservation } from './node-status.js';

/** A field of /proc/meminfo (MemAvailable, Inactive(file), ...), in bytes; undefined when the line is missing. */
export function meminfoBytes(meminfo: string, field: string): number | undefined {
  const escaped = field.replace(/[()]/g, '\\$&');
  const match = new RegExp(`^${escaped}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
  return match ? Number(match[1]) * 1024 : undefined;
}

export interface NodeObserverOptions {
  rootDir: string;
  maxPods: number;
  /** Resolves when the runtime answers; rejects with why not. */
  runtimeUp(): Promise<unknown>;
}

export async function observeNode(options: NodeObserverOptions): Promise<NodeObservation> {
  const [meminfo, fs] = await Promise.all([readFile('/proc/meminfo', 'utf8'), statfs(options.rootDir)]);
  const notReadyReasons: string[] = [];
  await options.runtimeUp().catch((err: unknown) => notReadyReasons.push(`container runtime is down: ${errorMessage(err)}`));
  return {
    capacity: { ...machineResources(fs), pods: options.maxPods },
    memoryAvailableBytes: meminfoBytes(meminfo, 'MemAvailable') ?? totalmem(),
    nodefsAvailableBytes: fs.bavail * fs.bsize,
    notReadyReasons,
  };
}
