/** What every pod source is: something that starts, reports whole sets of objects, and stops. */
import type { PodSource } from '../../../common/api/well-known.js';
import type { ManifestObjects } from '../read-manifest.js';

/** Called with the source's whole current set (pods, ConfigMaps, Secrets), after every change and every rescan. */
export type SnapshotListener = (objects: ManifestObjects) => void;

export interface PodSourceRunner {
  readonly name: PodSource;
  start(): Promise<void>;
  /** Idempotent. */
  stop(): Promise<void>;
}
