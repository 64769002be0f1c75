/**
 * Applies computePodActions to the runtime (kuberuntime_manager.go SyncPod / KillPod): creates
 * sandboxes in the pod's cgroup (made first, as the kubelet's SyncPod does), starts containers
 * through the image manager with CrashLoopBackOff and runs their postStart hooks, kills what
 * must go (preStop hooks first), and removes a finished pod's containers, cgroup and files. Every step that fails leaves a waiting reason in the reason cache and
 * an event, and asks for a retry when one makes sense. A sync is cut short when its `signal`
 * aborts (the pod is being killed): a postStart hook stops being waited for.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { containerHash, isSidecar, isTerminalPhase, podHostname } from '../../common/api/pod-helpers.js';
import type { Container, DefaultedPod, PodStatus, Secret } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { containerObject, type EventRecorder } from '../events/recorder.js';
import type { ImageManager } from '../images/image-manager.js';
import { etcHostsContent } from '../network/etc-hosts.js';
import { formatResolvConf, podResolvConf } from '../network/resolv-conf.js';
import type { NodeFacts } from '../node/node-facts.js';
import type { ConfigObjectLookup } from '../config/config-objects.js';
import type { HandlerRunner } from '../lifecycle/handler-runner.js';
import { podLabel, podRef, type ContainerKind, type ContainerRuntime, type Mount, type PodRef, type RuntimeContainerStatus, type RuntimePodStatus, type SandboxStatus } from '../runtime/runtime.js';
import type { ReasonCache } from '../status/reason-cache.js';
import type { Clock } from '../../common/util/clock.js';
import { formatDuration } from '../../common/util/duration.js';
import { containerMounts } from '../volumes/container-mounts.js';
import type { RootDir } from '../volumes/root-dir.js';
import type { PersistentVolumeClaimSource, ServiceAccountTokenSource } from '../volumes/plugins/volume-plugin.js';
import type { PodContainerManager } from '../qos/qos-container-manager.js';
import type { MountedVolume, VolumeManager } from '../volumes/volume-manager.js';
import type { Backoff } from '../../common/util/backoff.js';
import { containerConfig, sandboxConfig } from './container-config.js';
import type { ContainerKiller } from './container-killer.js';
import { restoreContainerSpec } from './container-labels.js';
import { runAsNonRootViolation } from './security-context.js';
import { makeEnvironment, type EnvContext } from '../envvars/env.js';
import { computePodActions, terminalPodActions, type FailedProbe } from './pod-actions.js';

const SandboxRetryMs = 10_000;
/** How soon a pod whose volumes could not be set up tries again. */
const VolumeRetryMs = 5_000;
const ConfigErrorRetryMs = 10_000;

export interface PodSyncerOptions {
  runtime: ContainerRuntime;
  images: ImageManager;
  rootDir: RootDir;
  reasons: ReasonCache;
  recorder: EventRecorder;
  crashBackoff: Backoff;
  volumes: VolumeManager;
  killer: ContainerKiller;
  hooks: HandlerRunner;
  /** The pods' cgroups: each pod's made before its sandbox, and removed with it. */
  podContainers: PodContainerManager;
  /** Containers whose liveness or startup probe failed (the prober manager's results). */
  failedProbe: FailedProbe;
  node: NodeFacts;
  /** The ConfigMaps and Secrets `pod` sees (those of its source). */
  objectsFor(pod: DefaultedPod): ConfigObjectLookup;
  /** Where `pod`'s service account tokens come from; none for a pod that may not have them. */
  tokensFor(pod: DefaultedPod): ServiceAccountTokenSource | undefined;
  /** Where the pod's persistentVolumeClaim volumes find their claims. */
  claimsFor(pod: DefaultedPod): PersistentVolumeClaimSource;
  /** The pod's service link variables. */
  serviceEnv(pod: DefaultedPod): EnvContext['serviceEnv'];
  clock: Clock;
  logger: Logger;
}

export interface SyncResult {
  /** Something in the runtime was changed, so the pod's status must be read again. */
  changed: boolean;
  /** Sync again after this long, when a backoff or a retry is pending. */
  retryAfterMs?: number;
}

interface StartOutcome {
  started: boolean;
  retryAfterMs?: number;
}

export class PodSyncer {
  readonly #o: PodSyncerOptions;
  readonly #log: Logger;
  /** Crash-backoff keys of containers whose last create or start failed: they wait out the backoff too. */
  readonly #failedStarts = new Set<string>();

  constructor(options: PodSyncerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'pod-syncer' });
  }

  /**
   * One pass of bringing `pod` towards its spec; `apiStatus` is the status just computed for it.
   * A pod in a terminal phase is killed with `terminalGracePeriodSeconds` when given (an
   * eviction's), else with its own terminationGracePeriodSeconds.
   */
  async syncPod(pod: DefaultedPod, status: RuntimePodStatus, apiStatus: PodStatus, signal: AbortSignal, terminalGracePeriodSeconds?: number): Promise<SyncResult> {
    // A pod in a terminal phase (it completed, or was evicted) runs nothing more: kill what is left.
    const terminal = isTerminalPhase(apiStatus.phase);
    // Its requests no longer count in its QoS class's cgroup (the kubelet counts active pods only).
    if (terminal) await this.#o.podContainers.release(pod.metadata.uid);
    const actions = terminal ? terminalPodActions() : computePodActions(pod, status, this.#o.failedProbe);
    const result: SyncResult = { changed: false };
    const retry = (ms: number | undefined): void => {
      if (ms !== undefined) result.retryAfterMs = Math.min(result.retryAfterMs ?? Infinity, ms);
    };

    if (actions.killPod) {
      const running = status.containers.some((c) => c.state === 'running') || status.sandboxes.some((s) => s.state === 'ready');
      if (running) {
        if (actions.createSandbox && status.sandboxes.length > 0) {
          this.#o.recorder.event(podObject(pod), 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
        }
        const grace = (terminal ? terminalGracePeriodSeconds : undefined) ?? pod.spec.terminationGracePeriodSeconds ?? 30;
        await this.killPod(podRef(pod), status, grace, pod, signal);
        result.changed = true;
      }
      if (!actions.createSandbox) {
        await this.#collectGarbage(status);
        return result;
      }
    }

    // The pod's cgroup before anything of it runs, as the kubelet's SyncPod ensures it each time
    // (a pod adopted after a restart counts in its QoS class's again).
    const cgroupParent = await this.#o.podContainers.ensureExists(pod);

    // Volumes before the sandbox, as the kubelet waits for them; each sync refreshes their contents.
    const volumes = await this.#o.volumes.setUpPod(pod, { objects: this.#o.objectsFor(pod), tokens: this.#o.tokensFor(pod), claims: this.#o.claimsFor(pod) });
    if (!volumes.ok) {
      this.#o.recorder.event(podObject(pod), 'Warning', 'FailedMount', `MountVolume.SetUp failed for volume "${volumes.volume}" : ${volumes.message}`);
      retry(VolumeRetryMs);
      return result;
    }

    let sandboxId = actions.sandboxId;
    const hostNetwork = pod.spec.hostNetwork === true;
    let podIPs = this.#podIPs(hostNetwork, status.sandboxes[0]?.ip);
    if (actions.createSandbox) {
      const created = await this.#createSandbox(pod, actions.attempt, cgroupParent);
      result.changed = true;
      if (!created) {
        retry(SandboxRetryMs);
        return result;
      }
      sandboxId = created.id;
      podIPs = this.#podIPs(hostNetwork, created.ip);
    }
    if (!sandboxId) return result;

    for (const kill of actions.containersToKill) {
      const instance = status.containers.find((c) => c.id === kill.id);
      const spec = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === kill.name);
      await this.#o.killer.kill({
        pod: podRef(pod),
        containerId: kill.id,
        spec: spec ?? (instance ? restoreContainerSpec(instance) : { name: kill.name }),
        init: instance ? instance.kind === 'init' : (pod.spec.initContainers ?? []).some((c) => c.name === kill.name),
        podIP: podIPs[0],
        gracePeriodSeconds: kill.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30,
        message: kill.message,
      }, signal);
      result.changed = true;
    }
    const starting = actions.initContainersToStart.length + actions.containersToStart.length > 0;
    const ctx = { pod, status, apiStatus, sandboxId, podIPs, volumes: volumes.volumes, pullSecrets: starting ? this.#pullSecrets(pod) : [], signal };
    for (const container of actions.initContainersToStart) {
      const outcome = await this.#startContainer(ctx, container, 'init');
      result.changed = true;
      retry(outcome.retryAfterMs);
      if (!outcome.started && !isSidecar(container)) return result;
    }
    for (const container of actions.containersToStart) {
      const outcome = await this.#startContainer(ctx, container, 'regular');
      result.changed = true;
      retry(outcome.retryAfterMs);
    }
    await this.#collectGarbage(status);
    return result;
  }

  /**
   * Stops every running container of a pod, then its sandboxes: app containers together, then
   * sidecars in reverse order, each with `gracePeriodSeconds` (preStop hooks first). Without
   * `pod` (its spec is gone), what the containers' labels kept stands in for the spec. When
   * `signal` aborts, the kills stop being waited for and this rejects.
   */
  async killPod(ref: PodRef, status: RuntimePodStatus, gracePeriodSeconds: number, pod?: DefaultedPod, signal?: AbortSignal): Promise<void> {
    const running = status.containers.filter((c) => c.state === 'running');
    const sidecarOrder = (pod?.spec.initContainers ?? []).filter(isSidecar).map((c) => c.name);
    const sidecars = running.filter((c) => c.kind === 'init').sort((a, b) => sidecarOrder.indexOf(b.name) - sidecarOrder.indexOf(a.name));
    const others = running.filter((c) => c.kind !== 'init');
    const specs = pod ? [...(pod.spec.initContainers ?? []), ...pod.spec.containers] : [];
    const sandbox = status.sandboxes[0];
    const podIP = this.#podIPs(sandbox?.hostNetwork ?? pod?.spec.hostNetwork === true, sandbox?.ip)[0];
    const kill = (container: RuntimeContainerStatus): Promise<void> =>
      this.#o.killer.kill({
        pod: ref,
        containerId: container.id,
        spec: specs.find((c) => c.name === container.name) ?? restoreContainerSpec(container),
        init: container.kind === 'init',
        podIP,
        gracePeriodSeconds,
      }, signal);
    await Promise.all(others.map(kill));
    for (const sidecar of sidecars) await kill(sidecar);
    for (const sandbox of status.sandboxes) {
      if (sandbox.state === 'ready') await this.#o.runtime.stopPodSandbox(sandbox.id);
    }
  }

  /** Removes every container and sandbox of a pod that is gone for good, its cgroup, and its directory. */
  async removePod(uid: string, status: RuntimePodStatus): Promise<void> {
    for (const container of status.containers) await this.#o.runtime.removeContainer(container.id);
    for (const sandbox of status.sandboxes) await this.#o.runtime.removePodSandbox(sandbox.id);
    await this.#o.podContainers.destroy(uid);
    await this.#o.volumes.tearDownPod(uid);
    this.#o.reasons.removePod(uid);
    this.#o.crashBackoff.gc(`${uid}_`);
    for (const key of this.#failedStarts) if (key.startsWith(`${uid}_`)) this.#failedStarts.delete(key);
  }

  async #createSandbox(pod: DefaultedPod, attempt: number, cgroupParent: string | undefined): Promise<{ id: string; ip?: string } | undefined> {
    const { rootDir, node, runtime } = this.#o;
    const uid = pod.metadata.uid;
    try {
      await mkdir(rootDir.podDir(uid), { recursive: true, mode: 0o750 });
      const resolv = podResolvConf(pod, node.hostResolvConf, node.clusterDns);
      await writeFile(rootDir.resolvConfPath(uid), formatResolvConf(resolv), { mode: 0o644 });
      const id = await runtime.runPodSandbox(sandboxConfig(pod, attempt, rootDir, cgroupParent));
      await this.#o.podContainers.sandboxCreated(pod);
      if (pod.spec.hostNetwork === true) return { id };
      const ip = sandboxIP(id, await runtime.podSandboxStatus(id));
      await writeFile(
        rootDir.etcHostsPath(uid),
        etcHostsContent({
          podIP: ip,
          hostname: podHostname(pod),
          ...(pod.spec.subdomain ? { subdomain: pod.spec.subdomain } : {}),
          namespace: pod.metadata.namespace,
          clusterDomain: node.clusterDns.domain,
          hostAliases: pod.spec.hostAliases ?? [],
        }),
        { mode: 0o644 },
      );
      return { id, ip };
    } catch (err) {
      this.#o.recorder.event(podObject(pod), 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${errorMessage(err)}`);
      for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        this.#o.reasons.set(uid, container.name, { reason: 'CreatePodSandboxError', message: errorMessage(err) });
      }
      return undefined;
    }
  }

  async #startContainer(
    ctx: {
      pod: DefaultedPod;
      status: RuntimePodStatus;
      apiStatus: PodStatus;
      sandboxId: string;
      podIPs: string[];
      volumes: ReadonlyMap<string, MountedVolume>;
      pullSecrets: readonly Secret[];
      signal: AbortSignal;
    },
    container: Container,
    kind: ContainerKind,
  ): Promise<StartOutcome> {
    const { pod, status } = ctx;
    const { runtime, reasons, recorder, crashBackoff, clock } = this.#o;
    const uid = pod.metadata.uid;
    const object = containerObject(podRef(pod), container.name, kind === 'init');
    const fail = (reason: string, message: string, retryAfterMs?: number): StartOutcome => {
      reasons.set(uid, container.name, { reason, message });
      return { started: false, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    };

    const latest = status.containers.find((c) => c.name === container.name);
    const key = `${uid}_${container.name}_${containerHash(container)}`;
    if (this.#failedStarts.has(key)) {
      // A failed create or start waits as a crash does; its reason stays until the next attempt.
      const waitMs = crashBackoff.remainingSinceUpdate(key);
      if (waitMs > 0) return { started: false, retryAfterMs: waitMs };
    } else if (latest?.state === 'exited') {
      const finishedAt = latest.finishedAt ?? clock.now();
      const waitMs = crashBackoff.remaining(key, finishedAt);
      if (waitMs > 0) {
        const delay = formatDuration(crashBackoff.get(key));
        recorder.event(object, 'Warning', 'BackOff', `Back-off restarting failed container ${container.name} in pod ${podLabel(podRef(pod))}`);
        return fail('CrashLoopBackOff', `back-off ${delay} restarting failed container=${container.name} pod=${podLabel(podRef(pod))}`, waitMs);
      }
      crashBackoff.next(key, finishedAt);
    }

    const image = await this.#o.images.ensureImage(uid, container, object, ctx.pullSecrets, ctx.signal);
    if (!image.ok) return fail(image.reason, image.message, image.retryAfterMs);
    const nonRoot = runAsNonRootViolation(pod, container, image.image.user);
    if (nonRoot) {
      recorder.event(object, 'Warning', 'Failed', `Error: ${nonRoot}`);
      return fail('CreateContainerConfigError', nonRoot, ConfigErrorRetryMs);
    }

    const restartCount = nextRestartCount(container.name, status.containers, ctx.apiStatus);
    const inputs = await this.#containerInputs(container, ctx);
    if (!inputs.ok) {
      recorder.event(object, 'Warning', 'Failed', `Error: ${inputs.message}`);
      return fail('CreateContainerConfigError', inputs.message, ConfigErrorRetryMs);
    }
    const config = containerConfig(container, kind, { pod, rootDir: this.#o.rootDir, restartCount, env: inputs.env, volumeMounts: inputs.mounts, memoryCapacityBytes: this.#o.node.allocatable.memoryBytes });

    const failedStart = (reason: string, message: string): StartOutcome => {
      crashBackoff.next(key, clock.now());
      this.#failedStarts.add(key);
      return fail(reason, message, crashBackoff.get(key));
    };
    let id: string;
    try {
      if (container.terminationMessagePath) {
        await mkdir(this.#o.rootDir.containerDir(uid, container.name), { recursive: true });
        // World-writable whatever the umask, as the kubelet makes it: the container's user may be anyone.
        const messagePath = this.#o.rootDir.terminationMessagePath(uid, container.name, restartCount);
        await writeFile(messagePath, '');
        await chmod(messagePath, 0o666);
      }
      id = await runtime.createContainer(ctx.sandboxId, config);
    } catch (err) {
      recorder.event(object, 'Warning', 'Failed', `Error: ${errorMessage(err)}`);
      return failedStart('CreateContainerError', errorMessage(err));
    }
    recorder.event(object, 'Normal', 'Created', `Created container ${container.name}`);
    try {
      await runtime.startContainer(id);
    } catch (err) {
      const message = `failed to start container "${id.slice(0, 12)}": ${errorMessage(err)}`;
      recorder.event(object, 'Warning', 'Failed', `Error: ${message}`);
      return failedStart('RunContainerError', message);
    }
    this.#failedStarts.delete(key);
    recorder.event(object, 'Normal', 'Started', `Started container ${container.name}`);
    this.#log.debug({ pod: podLabel(podRef(pod)), container: container.name, containerID: id.slice(0, 12), restartCount }, 'container started');
    const postStart = container.lifecycle?.postStart;
    if (postStart) {
      const target = { container, containerId: id, podIP: ctx.podIPs[0], podLabel: podLabel(podRef(pod)), object };
      try {
        await this.#o.hooks.run(postStart, target, ctx.signal);
      } catch (err) {
        // The pod is being killed: its termination takes it from here.
        if (ctx.signal.aborted) return { started: true };
        const message = errorMessage(err);
        recorder.event(object, 'Warning', 'FailedPostStartHook', message);
        await this.#o.killer.kill({
          pod: podRef(pod),
          containerId: id,
          spec: container,
          init: kind === 'init',
          podIP: ctx.podIPs[0],
          gracePeriodSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
          message: 'FailedPostStartHook',
        }, ctx.signal);
        return fail('PostStartHookError', message);
      }
    }
    reasons.clear(uid, container.name);
    return { started: true };
  }

  /**
   * The pod's imagePullSecrets that its source holds (getPullSecretsForPod), read once per sync
   * that starts containers; those it does not hold are left out, with one event naming them.
   */
  #pullSecrets(pod: DefaultedPod): Secret[] {
    const names = (pod.spec.imagePullSecrets ?? []).flatMap((ref) => (ref.name ? [ref.name] : []));
    if (names.length === 0) return [];
    const objects = this.#o.objectsFor(pod);
    const found = names.flatMap((name) => objects.secret(pod.metadata.namespace, name) ?? []);
    const missing = names.filter((name) => !found.some((secret) => secret.metadata?.name === name));
    if (missing.length > 0) {
      const message = `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`;
      this.#o.recorder.event(podObject(pod), 'Warning', 'FailedToRetrieveImagePullSecret', message);
    }
    return found;
  }

  /** The container's environment and its volume mounts (subPathExpr expands from that environment). */
  async #containerInputs(
    container: Container,
    ctx: { pod: DefaultedPod; podIPs: string[]; volumes: ReadonlyMap<string, MountedVolume> },
  ): Promise<{ ok: true; env: Array<{ name: string; value: string }>; mounts: Mount[] } | { ok: false; message: string }> {
    const env = makeEnvironment(container, {
      pod: ctx.pod,
      podIPs: ctx.podIPs,
      hostIPs: this.#o.node.hostIPs,
      nodeAllocatable: this.#o.node.allocatable,
      objects: this.#o.objectsFor(ctx.pod),
      serviceEnv: this.#o.serviceEnv(ctx.pod),
    });
    if (!env.ok) return env;
    const subPathTarget = (volumeName: string, index: number): string => this.#o.rootDir.volumeSubPath(ctx.pod.metadata.uid, volumeName, container.name, index);
    const mounts = await containerMounts(container, ctx.volumes, new Map(env.env.map(({ name, value }) => [name, value])), subPathTarget);
    return mounts.ok ? { ok: true, env: env.env, mounts: mounts.mounts } : mounts;
  }

  /** The pod's IPs: its sandbox's on the pod network, the node's for a hostNetwork pod. */
  #podIPs(hostNetwork: boolean, sandboxIP: string | undefined): string[] {
    if (hostNetwork) return [...this.#o.node.hostIPs];
    return sandboxIP ? [sandboxIP] : [];
  }

  /**
   * Keeps one dead instance per container name (the kubelet's MaxPerPodContainerCount=1), which
   * is what lastState and `previous` logs need, and only the newest sandbox.
   */
  async #collectGarbage(status: RuntimePodStatus): Promise<void> {
    const keptDead = new Set<string>();
    for (const container of status.containers) {
      if (container.state === 'running') continue;
      if (!keptDead.has(container.name)) {
        keptDead.add(container.name);
        continue;
      }
      await this.#o.runtime.removeContainer(container.id);
    }
    for (const sandbox of status.sandboxes.slice(1)) {
      if (sandbox.state !== 'ready') await this.#o.runtime.removePodSandbox(sandbox.id);
    }
  }
}

/** A new sandbox's IP on the pod network; each way of having none is an error of its own. */
function sandboxIP(id: string, sandbox: SandboxStatus | undefined): string {
  const short = id.slice(0, 12);
  if (!sandbox) throw new Error(`the sandbox ${short} was gone as soon as it started`);
  if (sandbox.state !== 'ready') throw new Error(`the sandbox ${short} stopped as soon as it started`);
  if (!sandbox.ip) throw new Error(`the sandbox ${short} got no IP address on the pod network`);
  return sandbox.ip;
}

function podObject(pod: DefaultedPod): { kind: 'Pod'; name: string; namespace: string; uid: string } {
  return { kind: 'Pod', ...podRef(pod) };
}

/**
 * The restart count for a new instance: one more than the newest instance's, and never less
 * than the reported status says (a container that vanished still counts).
 */
export function nextRestartCount(name: string, containers: readonly RuntimeContainerStatus[], apiStatus: PodStatus): number {
  const latest = containers.find((c) => c.name === name);
  const reported = [...(apiStatus.initContainerStatuses ?? []), ...(apiStatus.containerStatuses ?? [])].find((s) => s.name === name);
  return Math.max(latest ? latest.restartCount + 1 : 0, reported?.restartCount ?? 0);
}
