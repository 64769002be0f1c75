/**
 * The decisions of node-pressure eviction (pkg/kubelet/eviction helpers.go and
 * eviction_manager.go synchronize), pure: which thresholds are met by what was observed, which
 * node conditions follow and how long they stay, which threshold to act on first, and in which
 * order pods go.
 */
import type { DefaultedPod } from '../../common/api/types.js';
import { podPriority } from '../../common/api/priority.js';
import { containerResource, podResource } from '../../common/api/pod-resources.js';
import { formatBytesQuantity, thresholdQuantity, type Signal, type Threshold } from './thresholds.js';

/** What is left of a signal's resource, and how much of it there is. */
export interface SignalObservation {
  available: number;
  capacity: number;
}

export type Observations = Partial<Record<Signal, SignalObservation>>;

export type PressureCondition = 'MemoryPressure' | 'DiskPressure' | 'PIDPressure';

const ConditionOf: Record<Signal, PressureCondition> = {
  'memory.available': 'MemoryPressure',
  'nodefs.available': 'DiskPressure',
  'nodefs.inodesFree': 'DiskPressure',
  'imagefs.available': 'DiskPressure',
  'imagefs.inodesFree': 'DiskPressure',
  'pid.available': 'PIDPressure',
};

/** The resource a signal measures, as the kubelet names it in its messages. */
export const ResourceOf: Record<Signal, string> = {
  'memory.available': 'memory',
  'nodefs.available': 'ephemeral-storage',
  'nodefs.inodesFree': 'inodes',
  'imagefs.available': 'ephemeral-storage',
  'imagefs.inodesFree': 'inodes',
  'pid.available': 'pids',
};

/** The order thresholds are acted on when several are met: memory first, as the kubelet's byEvictionPriority. */
const SignalPriority: readonly Signal[] = ['memory.available', 'pid.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree'];

/** The thresholds whose signal is below them (below them plus their minimum reclaim, when `enforceMinReclaim`). */
export function thresholdsMet(thresholds: readonly Threshold[], observations: Observations, enforceMinReclaim: boolean): Threshold[] {
  return thresholds.filter((threshold) => {
    const observed = observations[threshold.signal];
    if (!observed) return false;
    const reclaim = enforceMinReclaim && threshold.minReclaim ? thresholdQuantity(threshold.minReclaim, observed.capacity) : 0;
    return observed.available < thresholdQuantity(threshold.value, observed.capacity) + reclaim;
  });
}

/** The conditions the met thresholds raise. */
export function pressureConditions(thresholds: readonly Threshold[]): Set<PressureCondition> {
  return new Set(thresholds.map((threshold) => ConditionOf[threshold.signal]));
}

/** The threshold to act on first: memory, then PIDs, then the node's and the image file systems. */
export function thresholdToReclaim(thresholds: readonly Threshold[]): Threshold | undefined {
  return [...thresholds].sort((a, b) => SignalPriority.indexOf(a.signal) - SignalPriority.indexOf(b.signal))[0];
}

/** A pod's usage of what a signal measures, for ranking: memory working set, or ephemeral storage bytes. */
export interface PodUsage {
  memoryBytes: number;
  diskBytes: number;
  /** Per container, for the message: what it used of the resource. */
  containers: Array<{ name: string; memoryBytes: number; diskBytes: number }>;
}

const request = (pod: DefaultedPod, resource: string): number => podResource(pod, 'requests', resource) ?? 0;

/**
 * Pods in the order the kubelet evicts them for a signal (rankMemoryPressure, rankDiskPressureFunc,
 * rankPIDPressure): first those using more than they requested, then the lower priority, then the
 * larger use beyond the request. For PIDs, by priority alone: dockerlet does not count a pod's
 * processes.
 */
export function rankForEviction(signal: Signal, pods: ReadonlyArray<{ pod: DefaultedPod; usage: PodUsage }>): DefaultedPod[] {
  const resource = ResourceOf[signal];
  const measure = (entry: { pod: DefaultedPod; usage: PodUsage }): { used: number; requested: number } =>
    resource === 'memory'
      ? { used: entry.usage.memoryBytes, requested: request(entry.pod, 'memory') }
      : { used: entry.usage.diskBytes, requested: request(entry.pod, 'ephemeral-storage') };
  return [...pods]
    .sort((a, b) => {
      if (resource !== 'pids') {
        const [ma, mb] = [measure(a), measure(b)];
        const exceeds = Number(mb.used > mb.requested) - Number(ma.used > ma.requested);
        if (exceeds !== 0) return exceeds;
        const byPriority = podPriority(a.pod) - podPriority(b.pod);
        if (byPriority !== 0) return byPriority;
        return mb.used - mb.requested - (ma.used - ma.requested);
      }
      return podPriority(a.pod) - podPriority(b.pod);
    })
    .map((entry) => entry.pod);
}

/**
 * The kubelet's eviction message: the resource, the threshold and what was left, then the
 * container that used the most of it beyond its request.
 */
export function evictionMessage(threshold: Threshold, observed: SignalObservation, pod: DefaultedPod, usage: PodUsage): string {
  const resource = ResourceOf[threshold.signal];
  const bytes = resource === 'memory' || resource === 'ephemeral-storage';
  const show = (value: number): string => (bytes ? formatBytesQuantity(value) : String(value));
  let message = `The node was low on resource: ${resource}. Threshold quantity: ${show(thresholdQuantity(threshold.value, observed.capacity))}, available: ${show(observed.available)}. `;
  if (!bytes) return message;
  const key = resource === 'memory' ? 'memoryBytes' : 'diskBytes';
  const requestOf = (name: string): number => containerResource(pod.spec.containers.find((c) => c.name === name), 'requests', resource === 'memory' ? 'memory' : 'ephemeral-storage') ?? 0;
  for (const container of usage.containers) {
    if (container[key] > requestOf(container.name)) {
      message += `Container ${container.name} was using ${show(container[key])}, request is ${show(requestOf(container.name))}, has larger consumption of ${resource}. `;
    }
  }
  return message;
}
