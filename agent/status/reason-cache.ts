/**
 * Why a container is not running, as the last sync found it (ErrImagePull, CrashLoopBackOff,
 * CreateContainerConfigError ...): the kubelet's reasonCache. The pod syncer writes it; the
 * status builder turns it into waiting states.
 */

export interface ContainerWaitingReason {
  reason: string;
  message: string;
}

export class ReasonCache {
  readonly #byPod = new Map<string, Map<string, ContainerWaitingReason>>();

  get(podUID: string, containerName: string): ContainerWaitingReason | undefined {
    return this.#byPod.get(podUID)?.get(containerName);
  }

  /** Returns true when this changed what the cache held. */
  set(podUID: string, containerName: string, reason: ContainerWaitingReason): boolean {
    let byContainer = this.#byPod.get(podUID);
    if (!byContainer) this.#byPod.set(podUID, (byContainer = new Map()));
    const known = byContainer.get(containerName);
    byContainer.set(containerName, reason);
    return known?.reason !== reason.reason || known.message !== reason.message;
  }

  /** Returns true when there was something to clear. */
  clear(podUID: string, containerName: string): boolean {
    return this.#byPod.get(podUID)?.delete(containerName) ?? false;
  }

  removePod(podUID: string): void {
    this.#byPod.delete(podUID);
  }
}
