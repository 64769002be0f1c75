/** What every pod source is: something that starts, reports whole sets of objects, and stops. */
import type { PodSource } from '../../../common/api/well-known.js';
import type { ManifestObjects } from '../read-manifest.js';

/**
 * Called with the source's whole current set (pods, ConfigMaps, Secrets, ...), after every change
 * and every rescan. `whole` is false when the source could not read what it has (a manifest path
 * that is missing, a URL that answers an empty body): what it no longer lists may still exist.
 */
export type SnapshotListener = (objects: ManifestObjects, whole: boolean) => void;

export interface PodSourceRunner {
  readonly name: PodSource;
  start(): Promise<void>;
  /** Idempotent. */
  stop(): Promise<void>;
}
