/**
 * Local storage limits (pkg/kubelet/eviction eviction_manager.go localStorageEviction), pure:
 * whether a pod is over one of them, and the kubelet's message saying which. In upstream's
 * order: a disk-backed emptyDir over its sizeLimit; then the pod's ephemeral storage (its
 * running containers' writable layers and logs, and its local volumes) over the sum of its
 * containers' ephemeral-storage limits; then an app container's writable layer and logs over
 * its own limit.
 */
import type { DefaultedPod } from '../../common/api/types.js';
import { containerResource, podResource } from '../../common/api/pod-resources.js';
import type { EmptyDirUsage } from '../volumes/volume-manager.js';
import type { PodUsage } from './node-pressure.js';
import { formatBytesQuantity } from './thresholds.js';

export interface LocalStorageViolation {
  message: string;
  details: Record<string, unknown>;
}

/** Whether the pod or one of its containers sets an ephemeral-storage limit: only those need measuring beyond emptyDirs. */
export function hasEphemeralStorageLimit(pod: DefaultedPod): boolean {
  return podResource(pod, 'limits', 'ephemeral-storage') !== undefined;
}

/** The first local storage limit the pod is over, or undefined. `usage` is its ephemeral storage use, when it has a limit. */
export function localStorageViolation(pod: DefaultedPod, emptyDirs: readonly EmptyDirUsage[], usage: PodUsage | undefined): LocalStorageViolation | undefined {
  const emptyDir = emptyDirs.find((entry) => entry.limitBytes > 0 && entry.usedBytes > entry.limitBytes);
  if (emptyDir) {
    const limit = pod.spec.volumes?.find((v) => v.name === emptyDir.volume)?.emptyDir?.sizeLimit ?? emptyDir.limitBytes;
    return { message: `Usage of EmptyDir volume "${emptyDir.volume}" exceeds the limit "${String(limit)}". `, details: { volume: emptyDir.volume, usedBytes: emptyDir.usedBytes } };
  }
  if (!usage) return undefined;
  const podLimit = podResource(pod, 'limits', 'ephemeral-storage');
  if (podLimit !== undefined && usage.diskBytes > podLimit) {
    return { message: `Pod ephemeral local storage usage exceeds the total limit of containers ${formatBytesQuantity(podLimit)}. `, details: { usedBytes: usage.diskBytes, limitBytes: podLimit } };
  }
  // App containers only, and a limit of 0 is none, as upstream's containerEphemeralStorageLimitEviction.
  for (const container of usage.containers) {
    const limit = containerResource(pod.spec.containers.find((c) => c.name === container.name), 'limits', 'ephemeral-storage');
    if (limit && container.diskBytes > limit) {
      return { message: `Container ${container.name} exceeded its local ephemeral storage limit "${formatBytesQuantity(limit)}". `, details: { container: container.name, usedBytes: container.diskBytes, limitBytes: limit } };
    }
  }
  return undefined;
}
