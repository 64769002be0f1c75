/**
 * The runtime's status of each pod as last read (pkg/kubelet/container cache.go, the cache the
 * PLEG keeps for the pod workers). A status stays good until the PLEG sees something happen to
 * the pod: a sync with nothing new to act on (the periodic resync of an idle pod) then costs no
 * call to the engine, as a resync reads the kubelet's cache rather than the runtime.
 *
 * A read that something happened during (the pod marked, every pod marked, the pod forgotten)
 * is returned but not kept: the event that marked the pod will have its sync read it again. A
 * refresh drops what was kept before it reads, so a refresh that fails leaves nothing stale
 * behind. A status the caller's `keep` refuses (one still settling) is not kept either.
 */
import type { PodRef, RuntimePodStatus } from '../runtime/runtime.js';

export interface PodCacheOptions {
  read(pod: PodRef): Promise<RuntimePodStatus>;
  /** Whether a status read may be kept (default: always). */
  keep?(status: RuntimePodStatus): boolean;
}

export class PodCache {
  readonly #o: PodCacheOptions;
  readonly #statuses = new Map<string, RuntimePodStatus>();
  /** Reads in flight per pod, and how many times the pod was marked while any ran. */
  readonly #reading = new Map<string, { reads: number; marks: number }>();
  /** Bumped when every pod is marked. */
  #epoch = 0;

  constructor(options: PodCacheOptions) {
    this.#o = options;
  }

  /** The pod's status: as last read when nothing has happened to the pod since, else read now. */
  async get(pod: PodRef): Promise<RuntimePodStatus> {
    return this.#statuses.get(pod.uid) ?? this.refresh(pod);
  }

  /** Reads the pod now (after acting on it) and keeps what it read. */
  async refresh(pod: PodRef): Promise<RuntimePodStatus> {
    const uid = pod.uid;
    this.#statuses.delete(uid);
    const reading = this.#reading.get(uid) ?? { reads: 0, marks: 0 };
    this.#reading.set(uid, reading);
    reading.reads += 1;
    const marks = reading.marks;
    const epoch = this.#epoch;
    try {
      const status = await this.#o.read(pod);
      if (reading.marks === marks && this.#epoch === epoch && (this.#o.keep?.(status) ?? true)) this.#statuses.set(uid, status);
      return status;
    } finally {
      reading.reads -= 1;
      if (reading.reads === 0) this.#reading.delete(uid);
    }
  }

  /** Something happened to the pod (a PLEG event): its next get reads the runtime. */
  markChanged(uid: string): void {
    this.#statuses.delete(uid);
    const reading = this.#reading.get(uid);
    if (reading) reading.marks += 1;
  }

  /** Every pod may have changed unseen (the runtime's event stream was lost). */
  markAllChanged(): void {
    this.#statuses.clear();
    this.#epoch += 1;
  }

  /** The pod is gone from the node: nothing of it is kept, nor kept from a read in flight. */
  forget(uid: string): void {
    this.markChanged(uid);
  }
}

/** How long after a container's exit with 137 its OOM kill may still be recorded (Docker 20.10 on cgroup v2 records it late). */
const LateOomWindowMs = 60_000;

/**
 * Whether nothing in the status may still change without an event: a container that exited
 * with 137 (SIGKILL) a moment ago, not yet said to be OOMKilled, may be yet, and is read again
 * at the pod's next sync rather than kept.
 */
export function settledStatus(status: RuntimePodStatus, now: number): boolean {
  return !status.containers.some((c) => c.state === 'exited' && c.exitCode === 137 && c.reason !== 'OOMKilled' && now - (c.finishedAt ?? 0) < LateOomWindowMs);
}
