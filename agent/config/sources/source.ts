/** What every pod source is: something that starts, reports whole sets of pods, and stops. */
import type { DefaultedPod } from '../../api/types.js';
import type { PodSource } from '../../api/well-known.js';

/** Called with the source's whole current set, after every change and every rescan. */
export type PodSnapshotListener = (pods: DefaultedPod[]) => void;

export interface PodSourceRunner {
  readonly name: PodSource;
  start(): Promise<void>;
  /** Idempotent. */
  stop(): Promise<void>;
}
