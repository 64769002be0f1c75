/**
 * The API status of a pod from what the runtime shows (kubelet_pods.go generateAPIPodStatus,
 * convertToAPIContainerStatuses, getPhase; status/generate.go for conditions). Pure: the
 * caller supplies the previous status, the waiting reasons, termination messages and the
 * time, so each rule is tested on its own.
 */
import type { Container, ContainerState, ContainerStatus, DefaultedPod, PodCondition, PodStatus } from '../../common/api/types.js';
import { isSidecar, isTerminalPhase } from '../../common/api/pod-helpers.js';
import { qosClass } from '../../common/api/qos.js';
import type { RuntimeContainerStatus, RuntimePodStatus } from '../runtime/runtime.js';
import { rfc3339 } from '../../common/util/clock.js';
import { activeDeadlineRemainingMs, DeadlineExceeded } from './active-deadline.js';
import type { ContainerWaitingReason } from './reason-cache.js';

/** Whether a running container has passed its startup probe and is ready (prober results). */
export type ContainerHealth = (container: RuntimeContainerStatus) => { started: boolean; ready: boolean };

export interface PodStatusInput {
  pod: DefaultedPod;
  runtime: RuntimePodStatus;
  previous: PodStatus | undefined;
  reason(containerName: string): ContainerWaitingReason | undefined;
  /** Termination message per exited container ID (file content, or log tail on fallback). */
  terminationMessages: ReadonlyMap<string, string>;
  health: ContainerHealth;
  hostIPs: readonly string[];
  now: number;
  /** Set when the node evicted the pod: it is Failed for good, with this reason and message. */
  eviction?: { reason: string; message: string } | undefined;
  /** Set when the node refused to admit the pod: Failed for good, with this reason and message. */
  rejection?: { reason: string; message: string } | undefined;
}

const ContainerStatusUnknown = 'ContainerStatusUnknown';
/** convertToAPIContainerStatuses' words for a Running container the runtime no longer has (two spaces, sic). */
const VanishedMessage = 'The container could not be located when the pod was deleted.  The container used to be Running';

/** Condition types the kubelet owns (PodConditionsByKubelet); any other condition on the pod is kept as it is. */
const KubeletConditions = new Set(['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'PodReadyToStartContainers', 'PodResizePending', 'PodResizeInProgress']);

export function generatePodStatus(input: PodStatusInput): PodStatus {
  const { pod, runtime, previous, now } = input;
  // A rejected pod never ran: its status is what rejectPod sets, and no more.
  if (input.rejection) return { phase: 'Failed', reason: input.rejection.reason, message: input.rejection.message, qosClass: qosClass(pod) };
  const initContainers = pod.spec.initContainers ?? [];
  const sandbox = runtime.sandboxes[0];
  const sandboxReady = sandbox?.state === 'ready' && (sandbox.hostNetwork || sandbox.ip !== undefined);
  // One default for init and app containers alike: with init containers, PodInitializing.
  const defaultWaiting = initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating';
  // A regular init container that completed is ready (UpdatePodStatus); sidecars follow their probes.
  const initContainerStatuses = initContainers.map((c) => {
    const status = containerStatus(c, defaultWaiting, input);
    return isSidecar(c) ? status : { ...status, ready: status.state?.terminated?.exitCode === 0 };
  });
  const containerStatuses = pod.spec.containers.map((c) => containerStatus(c, defaultWaiting, input));

  let phase = podPhase(pod, initContainerStatuses, containerStatuses);
  if (previous && isTerminalPhase(previous.phase)) phase = previous.phase;
  const startTime = previous?.startTime ?? rfc3339(Math.min(now, ...runtime.sandboxes.map((s) => s.createdAt), ...runtime.containers.map((c) => c.createdAt)));
  // A pod that ended before its deadline keeps how it ended.
  const pastDeadline = !isTerminalPhase(phase) && (activeDeadlineRemainingMs(pod, startTime, now) ?? 1) <= 0;
  const ended = input.eviction ?? (pastDeadline ? DeadlineExceeded : undefined);
  if (ended) phase = 'Failed';

  const podIP = sandboxReady ? (sandbox.hostNetwork ? input.hostIPs[0] : sandbox.ip) : undefined;
  const status: PodStatus = {
    phase,
    conditions: conditions(pod, phase, sandboxReady, initContainerStatuses, containerStatuses, previous, now),
    hostIP: input.hostIPs[0] ?? '',
    hostIPs: input.hostIPs.map((ip) => ({ ip })),
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime,
    ...(initContainerStatuses.length > 0 ? { initContainerStatuses } : {}),
    containerStatuses,
    qosClass: qosClass(pod),
  };
  if (previous?.phase === phase && previous.reason) status.reason = previous.reason;
  if (previous?.phase === phase && previous.message) status.message = previous.message;
  if (ended) {
    status.reason = ended.reason;
    status.message = ended.message;
  }
  if (input.eviction) {
    // The kubelet says why it took the pod down (PodDisruptionConditions).
    const before = previous?.conditions?.find((c) => c.type === 'DisruptionTarget');
    status.conditions = [
      { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: input.eviction.message, lastTransitionTime: before?.lastTransitionTime ?? rfc3339(now) },
      ...(status.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'),
    ];
  }
  return status;
}

/**
 * `status` with the readiness of container `containerId` set to `ready`, and the Ready and
 * ContainersReady conditions that follow (the status manager's SetContainerReadiness): how a
 * readiness change reaches a pod whose worker is busy, as while it terminates. A container that
 * is not started stays not ready. Undefined when nothing changes.
 */
export function withContainerReadiness(pod: DefaultedPod, status: PodStatus, containerId: string, ready: boolean, now: number): PodStatus | undefined {
  const target = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].find((c) => c.containerID === `docker://${containerId}`);
  const nowReady = ready && target?.started === true;
  if (!target || target.ready === nowReady) return undefined;
  const patch = (list: ContainerStatus[] | undefined): ContainerStatus[] | undefined => list?.map((c) => (c === target ? { ...c, ready: nowReady } : c));
  const initContainerStatuses = patch(status.initContainerStatuses);
  const containerStatuses = patch(status.containerStatuses) ?? [];
  const sandboxReady = status.conditions?.find((c) => c.type === 'PodReadyToStartContainers')?.status === 'True';
  return {
    ...status,
    ...(initContainerStatuses ? { initContainerStatuses } : {}),
    containerStatuses,
    conditions: conditions(pod, status.phase ?? 'Pending', sandboxReady, initContainerStatuses ?? [], containerStatuses, status, now),
  };
}

function terminatedState(instance: RuntimeContainerStatus, messages: ReadonlyMap<string, string>): ContainerState {
  const message = messages.get(instance.id) || instance.message;
  return {
    terminated: {
      exitCode: instance.exitCode ?? 0,
      reason: instance.reason ?? 'Error',
      ...(message ? { message } : {}),
      ...(instance.startedAt !== undefined ? { startedAt: rfc3339(instance.startedAt) } : {}),
      ...(instance.finishedAt !== undefined ? { finishedAt: rfc3339(instance.finishedAt) } : {}),
      containerID: `docker://${instance.id}`,
    },
  };
}

function containerStatus(container: Container, defaultWaiting: string, input: PodStatusInput): ContainerStatus {
  const instances = input.runtime.containers.filter((c) => c.name === container.name);
  const old = [...(input.previous?.initContainerStatuses ?? []), ...(input.previous?.containerStatuses ?? [])].find((s) => s.name === container.name);
  const cached = input.reason(container.name);
  const waiting = (): ContainerState => ({ waiting: cached ? { reason: cached.reason, message: cached.message } : { reason: defaultWaiting } });
  const status: ContainerStatus = {
    name: container.name,
    image: container.image ?? '',
    imageID: '',
    ready: false,
    restartCount: 0,
    started: false,
    state: waiting(),
  };
  const [latest, before] = instances;

  // A container that was running and is gone from the runtime: it was lost behind our back.
  const vanished = old?.state?.running !== undefined && old.containerID !== undefined && !instances.some((c) => `docker://${c.id}` === old.containerID);
  const stillLost = old?.lastState?.terminated?.reason === ContainerStatusUnknown && (latest?.restartCount ?? -1) < old.restartCount;
  if (vanished || stillLost) {
    status.restartCount = vanished ? old!.restartCount + 1 : old!.restartCount;
    status.lastState = vanished
      ? { terminated: { exitCode: 137, reason: ContainerStatusUnknown, message: VanishedMessage, ...(old!.containerID ? { containerID: old!.containerID } : {}) } }
      : old!.lastState!;
    return status;
  }
  if (!latest) {
    // Nothing of it left in the runtime: what was last reported still stands.
    if (old?.state?.terminated) {
      status.state = old.state;
      status.restartCount = old.restartCount;
      if (old.containerID) status.containerID = old.containerID;
      if (old.imageID) status.imageID = old.imageID;
    } else if (old?.lastState?.terminated) {
      status.lastState = old.lastState;
      status.restartCount = old.restartCount;
    }
    return status;
  }

  status.containerID = `docker://${latest.id}`;
  status.imageID = latest.imageRef;
  status.restartCount = latest.restartCount;
  if (before && before.state === 'exited') status.lastState = terminatedState(before, input.terminationMessages);
  // The previous instance is gone from the runtime: keep what was last reported about it.
  else if (!before && latest.restartCount > 0 && old) {
    const previousEnd = old.containerID !== status.containerID && old.state?.terminated ? old.state : old.lastState;
    if (previousEnd?.terminated) status.lastState = previousEnd;
  }
  switch (latest.state) {
    case 'running': {
      const health = input.health(latest);
      status.state = { running: { ...(latest.startedAt !== undefined ? { startedAt: rfc3339(latest.startedAt) } : {}) } };
      status.started = health.started;
      status.ready = health.started && health.ready;
      break;
    }
    case 'exited':
      if (cached) {
        status.state = waiting();
        status.lastState = terminatedState(latest, input.terminationMessages);
      } else {
        status.state = terminatedState(latest, input.terminationMessages);
      }
      break;
    case 'created':
      status.state = waiting();
      break;
  }
  return status;
}

/** getPhase, from the container statuses just built. */
export function podPhase(pod: DefaultedPod, initStatuses: readonly ContainerStatus[], statuses: readonly ContainerStatus[]): NonNullable<PodStatus['phase']> {
  const initContainers = pod.spec.initContainers ?? [];
  const byName = new Map([...initStatuses, ...statuses].map((s) => [s.name, s]));
  let pendingInit = 0;
  let pendingSidecars = 0;
  let failedInit = 0;
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const container of initContainers) {
    const status = byName.get(container.name);
    if (isSidecar(container)) {
      if (!status) {
        pendingSidecars += 1;
        unknown += 1;
      } else if (status.state?.running) {
        if (!status.started) pendingSidecars += 1;
        running += 1;
      } else if (status.state?.waiting && !status.lastState?.terminated) {
        pendingSidecars += 1;
        waiting += 1;
      }
      continue;
    }
    if (!status || status.state?.running) pendingInit += 1;
    else if (status.state?.terminated) {
      if (status.state.terminated.exitCode !== 0) failedInit += 1;
    } else if (status.lastState?.terminated) {
      if (status.lastState.terminated.exitCode !== 0) failedInit += 1;
    } else pendingInit += 1;
  }
  let appStarted = false;
  for (const container of pod.spec.containers) {
    const status = byName.get(container.name);
    if (!status) {
      unknown += 1;
    } else if (status.state?.running) {
      running += 1;
      appStarted = true;
    } else if (status.state?.terminated) {
      stopped += 1;
      appStarted = true;
      if (status.state.terminated.exitCode === 0) succeeded += 1;
    } else if (status.lastState?.terminated) {
      stopped += 1;
      appStarted = true;
    } else {
      waiting += 1;
    }
  }
  const policy = pod.spec.restartPolicy ?? 'Always';
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (((pendingInit > 0 || pendingSidecars > 0) && !appStarted) || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function conditions(
  pod: DefaultedPod,
  phase: string,
  sandboxReady: boolean,
  initStatuses: readonly ContainerStatus[],
  statuses: readonly ContainerStatus[],
  previous: PodStatus | undefined,
  now: number,
): PodCondition[] {
  const initContainers = pod.spec.initContainers ?? [];
  const appStarted = statuses.some((s) => s.state?.running || s.state?.terminated || s.lastState?.terminated);
  const incomplete = initContainers
    .filter((c) => {
      const status = initStatuses.find((s) => s.name === c.name);
      return isSidecar(c) ? !status?.started : status?.state?.terminated?.exitCode !== 0;
    })
    .map((c) => c.name);
  const initialized = incomplete.length === 0 || appStarted;

  const readyTargets = [...initContainers.filter(isSidecar), ...pod.spec.containers];
  const allStatuses = new Map([...initStatuses, ...statuses].map((s) => [s.name, s]));
  const unready = readyTargets.filter((c) => allStatuses.get(c.name)?.ready !== true).map((c) => c.name);
  const completed = isTerminalPhase(phase);
  let readyReason: string | undefined;
  let readyMessage: string | undefined;
  if (completed) readyReason = phase === 'Failed' ? 'PodFailed' : 'PodCompleted';
  else if (unready.length > 0) {
    readyReason = 'ContainersNotReady';
    readyMessage = `containers with unready status: [${unready.join(' ')}]`;
  }
  const containersReady = !completed && unready.length === 0;

  // Ready also needs every readiness gate's condition to be True (GeneratePodReadyCondition).
  const foreign = (pod.status?.conditions ?? []).filter((c) => !KubeletConditions.has(c.type));
  let podReady = containersReady;
  let podReadyReason = readyReason;
  let podReadyMessage = readyMessage;
  if (containersReady) {
    const gateProblems = (pod.spec.readinessGates ?? []).flatMap(({ conditionType }) => {
      const condition = foreign.find((c) => c.type === conditionType);
      if (!condition) return [`corresponding condition of pod readiness gate "${conditionType}" does not exist.`];
      return condition.status === 'True' ? [] : [`the status of pod readiness gate "${conditionType}" is not "True", but ${condition.status}`];
    });
    if (gateProblems.length > 0) {
      podReady = false;
      podReadyReason = 'ReadinessGatesNotReady';
      podReadyMessage = gateProblems.join(', ');
    }
  }

  const make = (type: string, value: boolean, reason?: string, message?: string): PodCondition => {
    const status = value ? 'True' : 'False';
    const before = previous?.conditions?.find((c) => c.type === type);
    const since = before?.status === status && before.lastTransitionTime ? before.lastTransitionTime : rfc3339(now);
    return { type, status, lastTransitionTime: since, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
  };
  return [
    ...foreign,
    make('PodReadyToStartContainers', sandboxReady),
    make(
      'Initialized',
      initialized,
      initialized ? (phase === 'Succeeded' ? 'PodCompleted' : undefined) : 'ContainersNotInitialized',
      initialized ? undefined : `containers with incomplete status: [${incomplete.join(' ')}]`,
    ),
    make('Ready', podReady, podReadyReason, podReadyMessage),
    make('ContainersReady', containersReady, readyReason, readyMessage),
    make('PodScheduled', true),
  ];
}
