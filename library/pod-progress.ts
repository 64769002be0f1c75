/**
 * Where a pod stands for someone waiting on it, and what to tell them when it is not there: the
 * rules `dockerlet run --wait` and the library's waits share.
 *
 *   ready       restartPolicy Always, and the Ready condition is True
 *   completed   phase Succeeded (the goal of a Never or OnFailure pod, which Ready is not)
 *   failed      phase Failed: it will not get there, so waiting stops at once
 *   pending     anything else
 */
import type { ContainerStatus, Pod } from '../common/api/types.js';

export type PodProgress = 'ready' | 'completed' | 'failed' | 'pending';

export function podProgress(pod: Pod): PodProgress {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return 'completed';
  if (phase === 'Failed') return 'failed';
  const runsToCompletion = (pod.spec?.restartPolicy ?? 'Always') !== 'Always';
  const ready = pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;
  return ready && !runsToCompletion ? 'ready' : 'pending';
}

/** A container worth showing in a report: not running and ready, with what its status says. */
export interface ContainerTrouble {
  name: string;
  /** "waiting: CrashLoopBackOff: back-off 10s ...; last terminated: Error, exit code 1". */
  state: string;
  /** Whether its last words are in the current instance (false: the previous one's). */
  logsOfPrevious: boolean;
}

function terminated(state: NonNullable<ContainerStatus['state']>['terminated']): string {
  if (!state) return '';
  const parts = [state.reason ?? 'Terminated', `exit code ${state.exitCode}`];
  if (state.signal) parts.push(`signal ${state.signal}`);
  if (state.message) parts.push(state.message.trim());
  return parts.join(', ');
}

/** The containers of `pod` that keep it from being ready or complete: init containers first, as the pod runs them. */
export function containerTroubles(pod: Pod): ContainerTrouble[] {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const troubles: ContainerTrouble[] = [];
  for (const status of statuses) {
    const { waiting, running } = status.state ?? {};
    const ended = status.state?.terminated;
    if (running && status.ready) continue;
    if (ended && ended.exitCode === 0) continue;
    const parts: string[] = [];
    if (waiting) parts.push(`waiting: ${[waiting.reason, waiting.message].filter(Boolean).join(': ') || 'not started'}`);
    if (running) parts.push('running, not ready');
    if (ended) parts.push(`terminated: ${terminated(ended)}`);
    if (status.lastState?.terminated) parts.push(`last terminated: ${terminated(status.lastState.terminated)}`);
    // A container waiting to restart has no output of its own yet: the instance that ended has it.
    troubles.push({ name: status.name, state: parts.join('; ') || 'no state yet', logsOfPrevious: !running && !ended && status.lastState?.terminated !== undefined });
  }
  return troubles;
}

export interface PodReport {
  pod: Pod;
  containers: ReadonlyArray<ContainerTrouble & { logTail: readonly string[] }>;
}

/** The lines a failed wait prints: each pod, its phase and conditions' gist, each troubled container and its last log lines. */
export function formatPodReports(reports: readonly PodReport[]): string {
  const lines: string[] = [];
  for (const { pod, containers } of reports) {
    const reason = pod.status?.reason ? `, ${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ''}` : '';
    lines.push(`pod ${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name} (${pod.status?.phase ?? 'Pending'}${reason}):`);
    if (containers.length === 0) {
      const unscheduled = pod.status?.conditions?.find((condition) => condition.status !== 'True' && condition.message);
      lines.push(`  ${unscheduled ? `${unscheduled.type}: ${unscheduled.message}` : 'no container reported a problem yet'}`);
    }
    for (const container of containers) {
      lines.push(`  container ${container.name}: ${container.state}`);
      if (container.logTail.length > 0) {
        lines.push(`    last log lines${container.logsOfPrevious ? ' (of the instance that ended)' : ''}:`);
        for (const line of container.logTail) lines.push(`    | ${line}`);
      }
    }
  }
  return lines.join('\n');
}
