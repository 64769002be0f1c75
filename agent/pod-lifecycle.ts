/**
 * What a pod worker does at each step (kubelet.go SyncPod, SyncTerminatingPod,
 * SyncTerminatedPod): read the pod from the runtime, publish its status, act, and publish
 * again when acting changed something. A pod with an activeDeadlineSeconds is synced again when
 * its deadline comes; the status that finds it past is Failed (DeadlineExceeded, with the
 * kubelet's event), and the sync that follows kills its containers.
 */
import type { Logger } from 'pino';
import { DockerletError } from '../common/api/errors.js';
import { isTerminalPhase } from '../common/api/pod-helpers.js';
import type { DefaultedPod, PodStatus } from '../common/api/types.js';
import { podRef, type ContainerRuntime, type PodRef, type RuntimePodStatus } from './runtime/runtime.js';
import type { EventRecorder } from './events/recorder.js';
import type { PodCache } from './pleg/pod-cache.js';
import { activeDeadlineRemainingMs, DeadlineExceeded } from './status/active-deadline.js';
import { generatePodStatus, type ContainerHealth } from './status/generate-pod-status.js';
import type { ReasonCache } from './status/reason-cache.js';
import type { StatusManager } from './status/status-manager.js';
import type { TerminationMessages } from './status/termination-messages.js';
import type { PodRejection } from './admission/pod-admission.js';
import type { PodEviction } from './eviction/eviction-manager.js';
import type { Clock } from '../common/util/clock.js';
import type { PodSyncHandlers, TerminationRequest } from './podworkers/pod-workers.js';
import type { PodSyncer } from './kuberuntime/sync-pod.js';

export interface PodLifecycleOptions {
  runtime: ContainerRuntime;
  /** The runtime's pod statuses as the PLEG keeps them good. */
  podCache: PodCache;
  syncer: PodSyncer;
  statuses: StatusManager;
  reasons: ReasonCache;
  terminationMessages: TerminationMessages;
  health: ContainerHealth;
  hostIPs: readonly string[];
  /** Whether the node evicted the pod, and why. */
  eviction(uid: string): PodEviction | undefined;
  /** Whether the node refused to admit the pod, and why. */
  rejection(uid: string): PodRejection | undefined;
  /** Why pods off the host's network cannot start yet (the node has no pod subnet), or undefined when they can. */
  networkNotReady(): string | undefined;
  /** The status kept on disk for a finished pod whose containers were removed: the previous status after a restart. */
  keptStatus(uid: string): Promise<PodStatus | undefined>;
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
}

const DefaultGracePeriodSeconds = 30;
/** The kubelet's NetworkNotReadyErrorMsg. */
const NetworkNotReadyMessage = 'network is not ready';

export class PodLifecycle implements PodSyncHandlers {
  readonly #o: PodLifecycleOptions;
  /** The pods observed since this agent started. */
  readonly #synced = new Set<string>();

  constructor(options: PodLifecycleOptions) {
    this.#o = options;
  }

  async syncPod(pod: DefaultedPod, signal: AbortSignal): Promise<{ retryAfterMs?: number }> {
    const ref = podRef(pod);
    // What the runtime last said of the pod, unless something has happened to it since.
    const before = await this.#observe(pod, ref, await this.#o.podCache.get(ref));
    // As the kubelet's syncPod: with the network not ready, only a pod on the host's network goes on.
    const network = pod.spec.hostNetwork === true || isTerminalPhase(before.status.phase) ? undefined : this.#o.networkNotReady();
    if (network) {
      this.#o.recorder.event({ kind: 'Pod', ...ref }, 'Warning', 'NetworkNotReady', `${NetworkNotReadyMessage}: ${network}`);
      throw new DockerletError('DKL_ERR_RUNTIME', `${NetworkNotReadyMessage}: ${network}`);
    }
    const result = await this.#o.syncer.syncPod(pod, before.runtime, before.status, signal, this.#o.eviction(ref.uid)?.gracePeriodSeconds);
    const after = result.changed ? (await this.#observe(pod, ref, await this.#o.podCache.refresh(ref))).status : before.status;
    // A pod with an activeDeadlineSeconds is synced again when the deadline comes (ShouldSync).
    const deadline = isTerminalPhase(after.phase) ? undefined : activeDeadlineRemainingMs(pod, after.startTime, this.#o.clock.now());
    const retries = [result.retryAfterMs, deadline === undefined ? undefined : Math.max(deadline, 0)].filter((ms): ms is number => ms !== undefined);
    return retries.length > 0 ? { retryAfterMs: Math.min(...retries) } : {};
  }

  async syncTerminatingPod(request: TerminationRequest, signal: AbortSignal): Promise<void> {
    const ref: PodRef = request.pod ? podRef(request.pod) : (request.runningPod?.pod ?? { uid: request.uid, name: '', namespace: '' });
    const grace =
      request.gracePeriodSeconds ??
      request.pod?.spec.terminationGracePeriodSeconds ??
      request.runningPod?.terminationGracePeriodSeconds ??
      DefaultGracePeriodSeconds;
    const status = await this.#o.runtime.getPodStatus(ref);
    await this.#o.syncer.killPod(ref, status, grace, request.pod, signal);
    if (request.pod) await this.#observe(request.pod, ref, await this.#o.podCache.refresh(ref));
  }

  async syncTerminatedPod(uid: string): Promise<void> {
    const status = await this.#o.runtime.getPodStatus({ uid, name: '', namespace: '' });
    await this.#o.syncer.removePod(uid, status);
    this.#o.terminationMessages.forget(uid);
    this.#o.statuses.remove(uid);
    this.#synced.delete(uid);
    this.#o.podCache.forget(uid);
  }

  /** Publishes the status that follows from what the runtime says of the pod. */
  async #observe(pod: DefaultedPod, ref: PodRef, runtime: RuntimePodStatus): Promise<{ runtime: RuntimePodStatus; status: PodStatus }> {
    // The kept status stands for the pod's life before this agent started: read once, on its first sync here.
    const firstSync = !this.#synced.has(ref.uid);
    this.#synced.add(ref.uid);
    const previous = this.#o.statuses.get(ref.uid) ?? (firstSync ? await this.#o.keptStatus(ref.uid) : undefined);
    const status = generatePodStatus({
      pod,
      runtime,
      previous,
      reason: (name) => this.#o.reasons.get(ref.uid, name),
      terminationMessages: await this.#o.terminationMessages.collect(pod, runtime),
      health: this.#o.health,
      hostIPs: this.#o.hostIPs,
      now: this.#o.clock.now(),
      eviction: this.#o.eviction(ref.uid),
      rejection: this.#o.rejection(ref.uid),
    });
    if (status.reason === DeadlineExceeded.reason && previous?.reason !== DeadlineExceeded.reason) {
      this.#o.recorder.event({ kind: 'Pod', ...ref }, 'Normal', DeadlineExceeded.reason, DeadlineExceeded.message);
    }
    this.#o.statuses.set(pod, status);
    return { runtime, status };
  }
}
