/**
 * What a pod worker does at each step (kubelet.go SyncPod, SyncTerminatingPod,
 * SyncTerminatedPod): read the pod from the runtime, publish its status, act, and publish
 * again when acting changed something.
 */
import type { Logger } from 'pino';
import type { DefaultedPod, PodStatus } from '../common/api/types.js';
import { podRef, type ContainerRuntime, type PodRef, type RuntimePodStatus } from './runtime/runtime.js';
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
  clock: Clock;
  logger: Logger;
}

const DefaultGracePeriodSeconds = 30;

export class PodLifecycle implements PodSyncHandlers {
  readonly #o: PodLifecycleOptions;

  constructor(options: PodLifecycleOptions) {
    this.#o = options;
  }

  async syncPod(pod: DefaultedPod, signal: AbortSignal): Promise<{ retryAfterMs?: number }> {
    const ref = podRef(pod);
    const before = await this.#observe(pod, ref);
    const result = await this.#o.syncer.syncPod(pod, before.runtime, before.status, signal);
    if (result.changed) await this.#observe(pod, ref);
    return result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {};
  }

  async syncTerminatingPod(request: TerminationRequest): Promise<void> {
    const ref: PodRef = request.pod ? podRef(request.pod) : (request.runningPod?.pod ?? { uid: request.uid, name: '', namespace: '' });
    const grace =
      request.gracePeriodSeconds ??
      request.pod?.spec.terminationGracePeriodSeconds ??
      request.runningPod?.terminationGracePeriodSeconds ??
      DefaultGracePeriodSeconds;
    const status = await this.#o.runtime.getPodStatus(ref);
    await this.#o.syncer.killPod(ref, status, grace, request.pod);
    if (request.pod) await this.#observe(request.pod, ref);
  }

  async syncTerminatedPod(uid: string): Promise<void> {
    const status = await this.#o.runtime.getPodStatus({ uid, name: '', namespace: '' });
    await this.#o.syncer.removePod(uid, status);
    this.#o.terminationMessages.forget(uid);
    this.#o.statuses.remove(uid);
  }

  /** Reads the pod from the runtime and publishes the status that follows from it. */
  async #observe(pod: DefaultedPod, ref: PodRef): Promise<{ runtime: RuntimePodStatus; status: PodStatus }> {
    const runtime = await this.#o.runtime.getPodStatus(ref);
    const status = generatePodStatus({
      pod,
      runtime,
      previous: this.#o.statuses.get(ref.uid),
      reason: (name) => this.#o.reasons.get(ref.uid, name),
      terminationMessages: await this.#o.terminationMessages.collect(pod, runtime),
      health: this.#o.health,
      hostIPs: this.#o.hostIPs,
      now: this.#o.clock.now(),
      eviction: this.#o.eviction(ref.uid),
      rejection: this.#o.rejection(ref.uid),
    });
    this.#o.statuses.set(pod, status);
    return { runtime, status };
  }
}
