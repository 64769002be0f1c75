/**
 * computePodActions: what must happen to bring one pod from what Docker shows to what its
 * spec asks (kuberuntime_manager.go). A pure function: no I/O, no clock, so every case of the
 * kubelet's rules is tested on its own. The syncer applies the result.
 *
 * Rules, in order:
 * 1. No ready sandbox -> kill what is left and create a new one, then start from the first
 *    init container (or every app container that should run). Under restartPolicy Never a
 *    pod whose containers already ran gets no new sandbox.
 * 2. Init containers run one at a time, in order; a sidecar (restartPolicy Always) counts as
 *    done once running. A failed init container is retried, except under Never, which fails
 *    the pod.
 * 3. Then app containers: a running container whose spec hash changed is restarted; one
 *    that failed its liveness or startup probe is killed, and restarted unless the policy is
 *    Never (sidecars always are); a stopped one is started when the restart policy says so.
 * 4. When nothing runs and nothing is to start, the pod is done: kill it (sandbox too).
 */
import type { Container, DefaultedPod } from '../../common/api/types.js';
import { containerHash, isSidecar } from '../../common/api/pod-helpers.js';
import type { RuntimeContainerStatus, RuntimePodStatus } from '../runtime/runtime.js';

export interface ContainerToKill {
  id: string;
  name: string;
  message: string;
  /** The failed probe's own terminationGracePeriodSeconds, which replaces the pod's for this kill. */
  gracePeriodSeconds?: number;
}

/** Which probe, if any, says the running container `containerId` must be killed (the prober's results). */
export type FailedProbe = (containerId: string) => 'liveness' | 'startup' | undefined;

const noFailedProbes: FailedProbe = () => undefined;

export interface PodActions {
  /** Stop every container and the sandbox. */
  killPod: boolean;
  createSandbox: boolean;
  /** The sandbox to run containers in (the existing one when not creating). */
  sandboxId?: string;
  /** The attempt number for a new sandbox. */
  attempt: number;
  /** Init containers to start now, in order (one regular init container at most). */
  initContainersToStart: Container[];
  containersToStart: Container[];
  containersToKill: ContainerToKill[];
  /** A regular init container failed under restartPolicy Never: the pod has failed. */
  initFailed: boolean;
}

type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Newest instance of each container name, in `containers` (already newest first). */
function latestByName(containers: readonly RuntimeContainerStatus[]): Map<string, RuntimeContainerStatus> {
  const latest = new Map<string, RuntimeContainerStatus>();
  for (const container of containers) if (!latest.has(container.name)) latest.set(container.name, container);
  return latest;
}

/** Whether a container whose newest instance is `latest` should (re)start under `policy`. */
export function shouldStart(policy: RestartPolicy, latest: RuntimeContainerStatus | undefined): boolean {
  if (!latest || latest.state === 'created') return true;
  if (latest.state === 'running') return false;
  if (policy === 'Always') return true;
  return policy === 'OnFailure' && latest.exitCode !== 0;
}

const succeeded = (status: RuntimeContainerStatus | undefined): boolean => status?.state === 'exited' && status.exitCode === 0;

/** A kill for `latest` when a probe failed on it: "Container web failed liveness probe, will be restarted". */
function probeKill(container: Container, latest: RuntimeContainerStatus, failedProbe: FailedProbe, restart: boolean): ContainerToKill | undefined {
  const probe = failedProbe(latest.id);
  if (!probe) return undefined;
  const grace = (probe === 'liveness' ? container.livenessProbe : container.startupProbe)?.terminationGracePeriodSeconds;
  return {
    id: latest.id,
    name: container.name,
    message: `Container ${container.name} failed ${probe} probe${restart ? ', will be restarted' : ''}`,
    ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
  };
}

/** What a pod in a terminal phase gets: killed, and nothing started again. */
export function terminalPodActions(): PodActions {
  return { killPod: true, createSandbox: false, attempt: 0, initContainersToStart: [], containersToStart: [], containersToKill: [], initFailed: false };
}

export function computePodActions(pod: DefaultedPod, status: RuntimePodStatus, failedProbe: FailedProbe = noFailedProbes): PodActions {
  const policy = (pod.spec.restartPolicy ?? 'Always') as RestartPolicy;
  const initContainers = pod.spec.initContainers ?? [];
  const appContainers = pod.spec.containers;
  const sandbox = status.sandboxes[0];
  const sandboxReady = sandbox?.state === 'ready' && (sandbox.hostNetwork || sandbox.ip !== undefined) && sandbox.hostNetwork === (pod.spec.hostNetwork === true);
  const actions: PodActions = {
    killPod: false,
    createSandbox: false,
    attempt: 0,
    initContainersToStart: [],
    containersToStart: [],
    containersToKill: [],
    initFailed: false,
  };
  const latestOverall = latestByName(status.containers);

  if (!sandbox || !sandboxReady) {
    actions.killPod = true;
    const attempt = sandbox ? sandbox.attempt + 1 : 0;
    if (policy === 'Never' && sandbox && status.containers.length > 0) return actions;
    const toStart = appContainers.filter((c) => !(policy === 'OnFailure' && succeeded(latestOverall.get(c.name))));
    if (toStart.length === 0) return actions;
    actions.createSandbox = true;
    actions.attempt = attempt;
    if (initContainers.length > 0) actions.initContainersToStart = [initContainers[0]!];
    else actions.containersToStart = toStart;
    return actions;
  }

  actions.sandboxId = sandbox.id;
  const current = latestByName(status.containers.filter((c) => c.sandboxId === sandbox.id));
  const specNames = new Set([...initContainers, ...appContainers].map((c) => c.name));
  for (const container of status.containers) {
    if (container.state === 'running' && (!specNames.has(container.name) || current.get(container.name)?.id !== container.id)) {
      actions.containersToKill.push({ id: container.id, name: container.name, message: 'Container is not in the pod spec any more' });
    }
  }

  // Sidecars that failed a probe are killed and, like every sidecar, restarted.
  const failedSidecars = new Set<string>();
  for (const container of initContainers.filter(isSidecar)) {
    const latest = current.get(container.name);
    const kill = latest?.state === 'running' ? probeKill(container, latest, failedProbe, true) : undefined;
    if (!kill) continue;
    actions.containersToKill.push(kill);
    failedSidecars.add(container.name);
  }
  const sidecarRunning = (name: string): boolean => current.get(name)?.state === 'running' && !failedSidecars.has(name);

  const appStarted = appContainers.some((c) => current.has(c.name));
  if (!appStarted) {
    const progress = nextInitActions(initContainers, current, policy, sidecarRunning);
    if (progress.failed) {
      actions.initFailed = true;
      actions.killPod = true;
      return actions;
    }
    actions.initContainersToStart = progress.toStart;
    if (!progress.done) return actions;
  } else {
    // Initialized: keep sidecars running whatever the pod's restart policy.
    actions.initContainersToStart = initContainers.filter((c) => isSidecar(c) && !sidecarRunning(c.name));
  }

  let keepCount = 0;
  for (const container of appContainers) {
    const latest = current.get(container.name);
    if (latest?.state === 'running') {
      const unhealthy = probeKill(container, latest, failedProbe, policy !== 'Never');
      if (latest.hash !== containerHash(container)) {
        // A changed spec restarts the container whatever the restart policy.
        actions.containersToKill.push({ id: latest.id, name: container.name, message: `Container ${container.name} definition changed, will be restarted` });
        actions.containersToStart.push(container);
      } else if (unhealthy) {
        actions.containersToKill.push(unhealthy);
        if (policy !== 'Never') actions.containersToStart.push(container);
      } else {
        keepCount += 1;
      }
      continue;
    }
    if (shouldStart(policy, latest ?? latestOverall.get(container.name))) actions.containersToStart.push(container);
  }
  if (keepCount === 0 && actions.containersToStart.length === 0) {
    actions.killPod = true;
    actions.initContainersToStart = [];
  }
  return actions;
}

interface InitProgress {
  /** Every init container has done its part. */
  done: boolean;
  failed: boolean;
  toStart: Container[];
}

function nextInitActions(
  initContainers: readonly Container[],
  current: ReadonlyMap<string, RuntimeContainerStatus>,
  policy: RestartPolicy,
  sidecarRunning: (name: string) => boolean,
): InitProgress {
  for (const container of initContainers) {
    const latest = current.get(container.name);
    if (isSidecar(container)) {
      if (sidecarRunning(container.name)) continue;
      return { done: false, failed: false, toStart: [container] };
    }
    if (!latest || latest.state === 'created') return { done: false, failed: false, toStart: [container] };
    if (latest.state === 'running') return { done: false, failed: false, toStart: [] };
    if (latest.exitCode === 0) continue;
    if (policy === 'Never') return { done: false, failed: true, toStart: [] };
    return { done: false, failed: false, toStart: [container] };
  }
  return { done: true, failed: false, toStart: [] };
}
