/** Docker inspect and list results -> runtime-neutral statuses (cri-dockerd core/container_status.go). */
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import {
  ContainerHashLabel,
  ContainerKindLabel,
  ContainerNameLabel,
  ContainerTypeLabel,
  PodNameLabel,
  PodNamespaceLabel,
  PodUIDLabel,
  RestartCountLabel,
  SandboxAttemptLabel,
  SandboxIDLabel,
  TerminationGracePeriodLabel,
  TerminationMessagePathLabel,
} from '../../../common/api/well-known.js';
import type { PodRef, RunningPod, RuntimeContainerState, RuntimeContainerStatus, SandboxStatus } from '../runtime.js';

/** Docker writes "0001-01-01T00:00:00Z" for a time that never happened. */
export function dockerTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-')) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

export function podRefFromLabels(labels: Record<string, string>): PodRef {
  return {
    uid: labels[PodUIDLabel] ?? '',
    name: labels[PodNameLabel] ?? '',
    namespace: labels[PodNamespaceLabel] ?? '',
  };
}

function intLabel(labels: Record<string, string>, key: string): number | undefined {
  const value = Number.parseInt(labels[key] ?? '', 10);
  return Number.isNaN(value) ? undefined : value;
}

function stateOf(inspect: ContainerInspectInfo): RuntimeContainerState {
  if (inspect.State.Running) return 'running';
  if (dockerTime(inspect.State.FinishedAt) !== undefined || inspect.State.ExitCode !== 0) return 'exited';
  return 'created';
}

export function sandboxStatus(inspect: ContainerInspectInfo, networkName: string): SandboxStatus {
  const labels = inspect.Config.Labels ?? {};
  const hostNetwork = inspect.HostConfig.NetworkMode === 'host';
  const ip = hostNetwork ? undefined : inspect.NetworkSettings.Networks[networkName]?.IPAddress;
  return {
    id: inspect.Id,
    pod: podRefFromLabels(labels),
    attempt: intLabel(labels, SandboxAttemptLabel) ?? 0,
    state: inspect.State.Running ? 'ready' : 'notready',
    createdAt: Date.parse(inspect.Created),
    hostNetwork,
    ...(ip && inspect.State.Running ? { ip } : {}),
  };
}

export function containerStatus(inspect: ContainerInspectInfo, imageRef: string): RuntimeContainerStatus {
  const labels = inspect.Config.Labels ?? {};
  const state = stateOf(inspect);
  const startedAt = dockerTime(inspect.State.StartedAt);
  const finishedAt = dockerTime(inspect.State.FinishedAt);
  const status: RuntimeContainerStatus = {
    id: inspect.Id,
    name: labels[ContainerNameLabel] ?? '',
    pod: podRefFromLabels(labels),
    sandboxId: labels[SandboxIDLabel] ?? '',
    kind: labels[ContainerKindLabel] === 'init' ? 'init' : 'regular',
    state,
    createdAt: Date.parse(inspect.Created),
    image: inspect.Config.Image,
    imageRef,
    hash: labels[ContainerHashLabel] ?? '',
    restartCount: intLabel(labels, RestartCountLabel) ?? 0,
    labels,
  };
  if (startedAt !== undefined) status.startedAt = startedAt;
  if (state === 'exited') {
    status.exitCode = inspect.State.ExitCode;
    if (finishedAt !== undefined) status.finishedAt = finishedAt;
    const neverStarted = startedAt === undefined && inspect.State.ExitCode !== 0;
    // Docker leaves a container that could not start without times; as cri-dockerd, it started
    // and finished when it was created (the crash backoff counts from there).
    if (neverStarted) status.startedAt = status.finishedAt = status.createdAt;
    if (inspect.State.OOMKilled) status.reason = 'OOMKilled';
    else if (neverStarted) status.reason = 'ContainerCannotRun';
    else status.reason = inspect.State.ExitCode === 0 ? 'Completed' : 'Error';
    if (inspect.State.Error) status.message = inspect.State.Error;
  }
  const messagePath = labels[TerminationMessagePathLabel];
  const mount = messagePath ? inspect.Mounts.find((m) => m.Destination === messagePath) : undefined;
  if (mount) status.terminationMessageHostPath = mount.Source;
  return status;
}

function listState(info: ContainerInfo): RuntimeContainerState {
  if (info.State === 'running' || info.State === 'paused' || info.State === 'restarting') return 'running';
  return info.State === 'created' ? 'created' : 'exited';
}

/** Groups a `docker ps -a` listing of one node's containers into pods. */
export function groupRunningPods(listing: readonly ContainerInfo[]): RunningPod[] {
  const pods = new Map<string, RunningPod>();
  for (const info of listing) {
    const labels = info.Labels ?? {};
    const ref = podRefFromLabels(labels);
    if (!ref.uid) continue;
    let pod = pods.get(ref.uid);
    if (!pod) {
      pod = { pod: ref, sandboxes: [], containers: [] };
      pods.set(ref.uid, pod);
    }
    const createdAt = info.Created * 1000;
    const grace = intLabel(labels, TerminationGracePeriodLabel);
    if (grace !== undefined) pod.terminationGracePeriodSeconds = grace;
    if (labels[ContainerTypeLabel] === 'podsandbox') {
      pod.sandboxes.push({ id: info.Id, state: info.State === 'running' ? 'ready' : 'notready', createdAt });
    } else {
      pod.containers.push({ id: info.Id, name: labels[ContainerNameLabel] ?? '', image: info.Image, state: listState(info), createdAt });
    }
  }
  for (const pod of pods.values()) {
    pod.sandboxes.sort((a, b) => b.createdAt - a.createdAt);
    pod.containers.sort((a, b) => b.createdAt - a.createdAt);
  }
  return [...pods.values()];
}
