/**
 * activeDeadlineSeconds (pkg/kubelet/active_deadline.go): a pod active on the node longer than
 * its deadline, counted from its status' startTime, is Failed with DeadlineExceeded and its
 * containers are killed. Until then, the pod is synced again when the deadline comes.
 */
import type { DefaultedPod } from '../../common/api/types.js';

export const DeadlineExceeded = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' } as const;

/** Milliseconds left before `pod`'s deadline (0 or less: it has passed); undefined when it has none, or has not started. */
export function activeDeadlineRemainingMs(pod: DefaultedPod, startTime: string | undefined, now: number): number | undefined {
  const seconds = pod.spec.activeDeadlineSeconds;
  if (seconds === undefined || startTime === undefined) return undefined;
  return Date.parse(startTime) + seconds * 1000 - now;
}
