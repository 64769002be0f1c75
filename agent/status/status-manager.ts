/**
 * The status manager: the latest API status of every pod the agent runs. Consumers (the
 * HTTP server, the CLI's summary, later the API server and the service proxy) read it or
 * subscribe to changes; a status equal to the last one is not a change.
 */
import type { DefaultedPod, PodStatus } from '../api/types.js';
import { canonicalJson } from '../util/hash.js';

export type PodStatusListener = (pod: DefaultedPod, status: PodStatus, previous: PodStatus | undefined) => void;

export class StatusManager {
  readonly #statuses = new Map<string, { status: PodStatus; fingerprint: string }>();
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
    this.#statuses.set(uid, { status, fingerprint });
    for (const listener of this.#listeners) listener(pod, status, known?.status);
    return true;
  }

  remove(uid: string): void {
    this.#statuses.delete(uid);
  }
}
