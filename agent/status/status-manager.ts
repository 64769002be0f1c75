/**
 * The status manager: the latest API status of every pod the agent runs. Consumers (the
 * HTTP server, the CLI's summary, later the API server and the service proxy) read it or
 * subscribe to changes; a status equal to the last one is not a change.
 */
import type { DefaultedPod, PodStatus } from '../../common/api/types.js';
import { canonicalJson } from '../../common/util/hash.js';
import { withContainerReadiness } from './generate-pod-status.js';

export type PodStatusListener = (pod: DefaultedPod, status: PodStatus, previous: PodStatus | undefined) => void;

export class StatusManager {
  readonly #statuses = new Map<string, { pod: DefaultedPod; status: PodStatus; fingerprint: string }>();
  readonly #listeners: PodStatusListener[] = [];

  onChange(listener: PodStatusListener): void {
    this.#listeners.push(listener);
  }

  get(uid: string): PodStatus | undefined {
    return this.#statuses.get(uid)?.status;
  }

  /** Records `status` for `pod`; returns whether it differs from the last one. */
  set(pod: DefaultedPod, status: PodStatus): boolean {
    const uid = pod.metadata.uid;
    const fingerprint = canonicalJson(status);
    const known = this.#statuses.get(uid);
    if (known?.fingerprint === fingerprint) return false;
    this.#statuses.set(uid, { pod, status, fingerprint });
    for (const listener of this.#listeners) listener(pod, status, known?.status);
    return true;
  }

  /** Sets one container's readiness in the last status (SetContainerReadiness); false when nothing changed. */
  setContainerReadiness(uid: string, containerId: string, ready: boolean, now: number): boolean {
    const known = this.#statuses.get(uid);
    const status = known && withContainerReadiness(known.pod, known.status, containerId, ready, now);
    return status ? this.set(known.pod, status) : false;
  }

  remove(uid: string): void {
    this.#statuses.delete(uid);
  }
}
