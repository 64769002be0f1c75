/**
 * The body of a pods/status strategic merge patch that makes the API's status the agent's.
 * A strategic merge keeps whatever the patch leaves out: a condition's reason from when it was
 * False, a container's `waiting` state once it runs, a `message` gone from the pod. The kubelet
 * avoids that by diffing against the status it read; sending no GET, the agent instead states
 * every field it owns, explicitly null where it has no value, so that the merge removes it.
 * Lists merge by key (conditions by type, container statuses by name): other writers'
 * conditions (readiness gates, controllers') are left alone, as the kubelet leaves them.
 */
import type { ContainerState, ContainerStatus, PodCondition, PodStatus } from '../api/types.js';

type Nullable<T> = { [K in keyof T]: T[K] | null };

function withNulls<T extends object>(value: T, keys: ReadonlyArray<keyof T>): Nullable<T> {
  const out: Nullable<T> = { ...value };
  for (const key of keys) if (out[key] === undefined) out[key] = null;
  return out;
}

const StateKinds = ['waiting', 'running', 'terminated'] as const;

function state(value: ContainerState | undefined): Nullable<ContainerState> {
  const out: Record<string, unknown> = {};
  for (const kind of StateKinds) out[kind] = null;
  if (value?.waiting) out['waiting'] = withNulls(value.waiting, ['reason', 'message']);
  if (value?.running) out['running'] = value.running;
  if (value?.terminated) out['terminated'] = withNulls(value.terminated, ['signal', 'reason', 'message', 'startedAt', 'finishedAt', 'containerID']);
  return out as Nullable<ContainerState>;
}

function containerStatus(status: ContainerStatus): Nullable<ContainerStatus> {
  return { ...withNulls(status, ['containerID', 'started']), state: state(status.state), lastState: state(status.lastState) } as Nullable<ContainerStatus>;
}

function condition(value: PodCondition): Nullable<PodCondition> {
  return withNulls(value, ['reason', 'message', 'lastProbeTime']);
}

export function statusPatch(status: PodStatus): Record<string, unknown> {
  return {
    ...withNulls(status, ['reason', 'message']),
    ...(status.conditions ? { conditions: status.conditions.map(condition) } : {}),
    ...(status.initContainerStatuses ? { initContainerStatuses: status.initContainerStatuses.map(containerStatus) } : {}),
    ...(status.containerStatuses ? { containerStatuses: status.containerStatuses.map(containerStatus) } : {}),
    ...(status.ephemeralContainerStatuses ? { ephemeralContainerStatuses: status.ephemeralContainerStatuses.map(containerStatus) } : {}),
  };
}
