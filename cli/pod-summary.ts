/** One human line per change of a pod's phase or readiness, for people watching `dockerlet up`. */
import type { ContainerStatus, DefaultedPod, PodStatus } from '../common/api/types.js';
import { podFullName } from '../common/api/types.js';

function readiness(status: PodStatus): boolean {
  return status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function waitingReasons(status: PodStatus): string[] {
  const all: ContainerStatus[] = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];
  return all.flatMap((c) => {
    const reason = c.state?.waiting?.reason;
    return reason && reason !== 'ContainerCreating' && reason !== 'PodInitializing' ? [`${c.name}: ${reason}`] : [];
  });
}

/** The line to print when `status` follows `previous`, or undefined when nothing worth saying changed. */
export function podSummaryLine(pod: DefaultedPod, status: PodStatus, previous: PodStatus | undefined): string | undefined {
  const ready = readiness(status);
  const reasons = waitingReasons(status);
  const changed =
    previous === undefined ||
    previous.phase !== status.phase ||
    readiness(previous) !== ready ||
    waitingReasons(previous).join() !== reasons.join();
  if (!changed) return undefined;
  const ip = status.podIP ? ` ip=${status.podIP}` : '';
  const detail = reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
  return `pod ${podFullName(pod)}: ${status.phase}${ready ? ', Ready' : ''}${ip}${detail}`;
}
