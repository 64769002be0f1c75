/**
 * The status manager's API side (pkg/kubelet/status/status_manager.go, syncPod):
 * - a status that changed is PATCHed (strategic merge) straight to pods/status of the pod's
 *   object (an API pod's own, a static pod's mirror), carrying that object's UID as a
 *   precondition; there is no GET first (a node may not read what it need not), so the patch
 *   states every field the agent owns, null where it has none (status-patch.ts);
 * - a pod deleted in the API server, once its containers are gone, is deleted for good: grace
 *   period 0, UID precondition.
 * Pods are synced one at a time, in the order their changes came; a failed call leaves the pod
 * to the next pass (every 10 s, as the kubelet's syncPeriod), so an API outage loses nothing.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { podSource } from '../../common/api/pod-helpers.js';
import type { DefaultedPod, PodStatus } from '../../common/api/types.js';
import { deleteNowOptions, isApiNotFound, isApiConflict, type KubeApi } from '../../common/kube-api/kube-client.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { canonicalJson } from '../../common/util/hash.js';
import { statusPatch } from './status-patch.js';

export interface ApiStatusSyncOptions {
  client: KubeApi;
  /** The latest status of a pod, if the agent has one. */
  status(uid: string): PodStatus | undefined;
  /** Where a pod's status goes: an API pod's own object, a static pod's mirror; undefined while there is none. */
  statusTarget(pod: DefaultedPod): StatusTarget | undefined;
  logger: Logger;
  resyncPeriodMs?: number;
}

interface Pending {
  pod: DefaultedPod;
  /** Its containers are gone and it was deleted in the API server: delete the object. */
  deleteObject: boolean;
}

export interface StatusTarget {
  namespace: string;
  name: string;
  uid: string;
}

const DefaultResyncMs = 10_000;

const podPath = (target: StatusTarget): string => `/api/v1/namespaces/${target.namespace}/pods/${target.name}`;

export class ApiStatusSync {
  readonly #options: ApiStatusSyncOptions;
  readonly #pending = new Map<string, Pending>();
  /** The status last written, by UID: an equal one is not sent again. */
  readonly #sent = new Map<string, string>();
  readonly #runner: CoalescingRunner;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ApiStatusSyncOptions) {
    this.#options = options;
    this.#runner = new CoalescingRunner(() => this.#syncPending());
  }

  start(): void {
    this.#timer = setInterval(() => void this.#runner.run(), this.#options.resyncPeriodMs ?? DefaultResyncMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#runner.stop();
  }

  /** The pod's status changed: send it. */
  statusChanged(pod: DefaultedPod): void {
    const pending = this.#pending.get(pod.metadata.uid);
    this.#pending.set(pod.metadata.uid, { pod, deleteObject: pending?.deleteObject ?? false });
    void this.#runner.run();
  }

  /** The pod's containers are gone: if the API server is deleting it, finish the deletion. */
  terminated(pod: DefaultedPod): void {
    if (podSource(pod) !== 'api' || !pod.metadata.deletionTimestamp) return;
    this.#pending.set(pod.metadata.uid, { pod, deleteObject: true });
    void this.#runner.run();
  }

  /** The pod is gone from the agent: nothing more to send for it. */
  forget(uid: string): void {
    this.#pending.delete(uid);
    this.#sent.delete(uid);
  }

  /** Resolves once everything asked for so far was tried. */
  flush(): Promise<void> {
    return this.#runner.run();
  }

  async #syncPending(): Promise<void> {
    for (const [uid, pending] of [...this.#pending]) {
      try {
        const done = await this.#sync(pending);
        if (done && this.#pending.get(uid) === pending) this.#pending.delete(uid);
      } catch (err) {
        if (isApiNotFound(err) || isApiConflict(err)) {
          // The object is gone, or is another pod by now: nothing of ours to write.
          this.#pending.delete(uid);
          this.#sent.delete(uid);
          continue;
        }
        this.#options.logger.warn({ pod: `${pending.pod.metadata.namespace}/${pending.pod.metadata.name}`, err: errorMessage(err) }, 'failed to update the pod status in the API server, will retry');
      }
    }
  }

  /** Resolves with whether the pod is done with; false while it has no object to write to yet. */
  async #sync({ pod, deleteObject }: Pending): Promise<boolean> {
    const target = this.#options.statusTarget(pod);
    if (!target) return false;
    const uid = pod.metadata.uid;
    const status = this.#options.status(uid);
    // Keyed by the object too: a new mirror pod needs the status again.
    const fingerprint = status && `${target.uid} ${canonicalJson(status)}`;
    if (status && fingerprint !== this.#sent.get(uid)) {
      await this.#options.client.patch(`${podPath(target)}/status`, { metadata: { uid: target.uid }, status: statusPatch(status) });
      this.#sent.set(uid, fingerprint!);
    }
    if (deleteObject) {
      await this.#options.client.delete(podPath(target), deleteNowOptions(target.uid));
      this.#sent.delete(uid);
      this.#options.logger.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, podUID: uid }, 'pod deleted from the API server: its containers are gone');
    }
    return true;
  }
}
