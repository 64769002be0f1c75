/**
 * The runtime's status of each pod as last read (pkg/kubelet/container cache.go, the cache the
 * PLEG keeps for the pod workers). A status stays good until the PLEG sees something happen to
 * the pod: a sync with nothing new to act on (the periodic resync of an idle pod) then costs no
 * call to the engine, as a resync reads the kubelet's cache rather than the runtime.
 *
 * A read that something happened during is returned but not kept: the event that marked the
 * pod will have its sync read it again.
 */
import type { PodRef, RuntimePodStatus } from '../runtime/runtime.js';

export class PodCache {
  readonly #read: (pod: PodRef) => Promise<RuntimePodStatus>;
  readonly #statuses = new Map<string, RuntimePodStatus>();
  /** How many times each pod has been marked: a read is kept only if none came while it ran. */
  readonly #marks = new Map<string, number>();

  constructor(read: (pod: PodRef) => Promise<RuntimePodStatus>) {
    this.#read = read;
  }

  /** The pod's status: as last read when nothing has happened to the pod since, else read now. */
  async get(pod: PodRef): Promise<RuntimePodStatus> {
    return this.#statuses.get(pod.uid) ?? this.refresh(pod);
  }

  /** Reads the pod now (after acting on it) and keeps what it read. */
  async refresh(pod: PodRef): Promise<RuntimePodStatus> {
    const marks = this.#marks.get(pod.uid) ?? 0;
    const status = await this.#read(pod);
    if ((this.#marks.get(pod.uid) ?? 0) === marks) this.#statuses.set(pod.uid, status);
    return status;
  }

  /** Something happened to the pod (a PLEG event): its next get reads the runtime. */
  markChanged(uid: string): void {
    this.#statuses.delete(uid);
    this.#marks.set(uid, (this.#marks.get(uid) ?? 0) + 1);
  }

  /** Every pod may have changed unseen (the runtime's event stream was lost). */
  markAllChanged(): void {
    for (const uid of new Set([...this.#statuses.keys(), ...this.#marks.keys()])) this.markChanged(uid);
  }

  /** The pod is gone from the node: nothing of it is kept. */
  forget(uid: string): void {
    this.#statuses.delete(uid);
    this.#marks.delete(uid);
  }
}
