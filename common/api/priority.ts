/**
 * Pod priority (scheduling.k8s.io): the two built-in PriorityClasses the API server always has,
 * and the line above which a pod is critical (pkg/kubelet/types IsCriticalPodBasedOnPriority).
 */
import type { Pod } from './types.js';

/** The lowest priority of a system-critical pod. */
export const SystemCriticalPriority = 2_000_000_000;

/** The built-in PriorityClasses and their values (pkg/apis/scheduling). */
export const BuiltInPriorityClasses: ReadonlyMap<string, number> = new Map([
  ['system-cluster-critical', SystemCriticalPriority],
  ['system-node-critical', SystemCriticalPriority + 1000],
]);

/** The pod's priority: spec.priority, as the API server's Priority admission set it; 0 without one. */
export function podPriority(pod: Pick<Pod, 'spec'>): number {
  return pod.spec?.priority ?? 0;
}

/** A critical pod is never evicted and is the last the kernel's OOM killer picks. */
export function isCriticalPod(pod: Pick<Pod, 'spec'>): boolean {
  return podPriority(pod) >= SystemCriticalPriority;
}
