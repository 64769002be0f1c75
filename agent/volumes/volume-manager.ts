/**
 * The volume manager (pkg/kubelet/volumemanager, for what a single node serves on its own):
 * before a pod's sandbox is created, and again at each sync, every volume of the pod is set up
 * by its kind's plugin, so configMap, secret and downwardAPI contents follow their sources; every
 * kind but hostPath gives its content the pod's fsGroup (ownership.ts). A
 * volume that cannot be set up stops the pod from starting (the caller reports FailedMount).
 * A pod's volumes go with its directory, tmpfs mounts unmounted first; hostPath contents are
 * never touched.
 */
import { rm } from 'node:fs/promises';
import type { DefaultedPod, Volume } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { parseQuantity } from '../../common/api/quantity.js';
import type { ConfigObjectLookup } from '../config/config-objects.js';
import type { NodeAllocatable } from '../node/node-facts.js';
import { systemClock, type Clock } from '../../common/util/clock.js';
import { diskUsage, fsInfo, type FsInfo } from '../../common/util/fs-usage.js';
import { unmountAll } from './mounts.js';
import { configMapPlugin } from './plugins/config-map.js';
import { downwardApiPlugin } from './plugins/downward-api.js';
import { emptyDirPlugin } from './plugins/empty-dir.js';
import { hostPathPlugin } from './plugins/host-path.js';
import { persistentVolumeClaimPlugin } from './plugins/persistent-volume-claim.js';
import { projectedPlugin } from './plugins/projected.js';
import { secretPlugin } from './plugins/secret.js';
import type { ClaimRef, PersistentVolumeClaimSource, ServiceAccountTokenSource, VolumePlugin } from './plugins/volume-plugin.js';
import type { NodeIdentity } from './claims/node-affinity.js';
import type { RootDir } from './root-dir.js';

export interface MountedVolume {
  hostPath: string;
  /** Containers may only read it (configMap, secret, downwardAPI, projected). */
  readOnly: boolean;
}

export type PodVolumes = { ok: true; volumes: Map<string, MountedVolume> } | { ok: false; volume: string; message: string };

/** A volume's usage: the bytes below it, and its file system's size, free space and inodes; a claim's volume names its claim. */
export type VolumeStats = Omit<FsInfo, 'inodesUsed'> & { name: string; pvcRef?: ClaimRef };

/** Where the pod's sources keep what its volumes are made of. */
export interface VolumeSources {
  objects: ConfigObjectLookup;
  /** Service account tokens, for a pod that may have them. */
  tokens?: ServiceAccountTokenSource;
  /** PersistentVolumeClaims, for the pod's persistentVolumeClaim volumes. */
  claims?: PersistentVolumeClaimSource;
}

/** A volume as its last set-up left it: where containers bind it, the directory whose usage it reports, the claim it mounts. */
interface SetUpVolume {
  mounted: MountedVolume;
  usagePath?: string;
  claim?: ClaimRef;
}

export interface EmptyDirUsage {
  volume: string;
  usedBytes: number;
  limitBytes: number;
}

export interface VolumeManagerOptions {
  rootDir: RootDir;
  allowedHostPathPrefixes: readonly string[];
  nodeAllocatable: NodeAllocatable;
  /** This node's name and labels, for local PersistentVolumes' node affinity. */
  node: NodeIdentity;
  clock?: Clock;
}

/** How long a volume's measured usage is served before it is measured again (the kubelet's volumeStatsAggPeriod). */
const VolumeStatsAggPeriodMs = 60_000;

/** The plugins dockerlet serves, by the volume source field that selects each. */
const Plugins: ReadonlyArray<readonly [keyof Volume, VolumePlugin]> = [
  ['emptyDir', emptyDirPlugin],
  ['hostPath', hostPathPlugin],
  ['configMap', configMapPlugin],
  ['secret', secretPlugin],
  ['downwardAPI', downwardApiPlugin],
  ['projected', projectedPlugin],
  ['persistentVolumeClaim', persistentVolumeClaimPlugin],
];

/** The plugin that serves `volume`; none for a kind dockerlet does not serve (csi, nfs, ...). */
function pluginFor(volume: Volume): VolumePlugin | undefined {
  return Plugins.find(([field]) => volume[field] !== undefined)?.[1];
}

/** The volume's kind as the pod spec names it (its source field), for messages. */
const volumeKind = (volume: Volume): string => Object.keys(volume).find((key) => key !== 'name') ?? 'none';

export class VolumeManager {
  readonly #o: VolumeManagerOptions;
  readonly #clock: Clock;
  /** Bytes used below a volume directory, and when that was measured. */
  readonly #usage = new Map<string, { bytes: number; at: number }>();
  /** By pod UID: each volume set up (by name), as its last set-up left it, and whether all of them once were. */
  readonly #setUp = new Map<string, { volumes: Map<string, SetUpVolume>; complete: boolean }>();

  constructor(options: VolumeManagerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Sets up (or refreshes) every volume of `pod` from what its `sources` hold; the first that
   * fails stops the rest. A claim's volume, once mounted, stays as it is for the pod while this
   * agent runs, as the kubelet processes a pod's claims once: an API server away, or a claim
   * being deleted while the pod uses it, never stops a running pod's syncs.
   */
  async setUpPod(pod: DefaultedPod, sources: VolumeSources): Promise<PodVolumes> {
    const volumes = new Map<string, MountedVolume>();
    const pods = this.#setUp.get(pod.metadata.uid) ?? { volumes: new Map<string, SetUpVolume>(), complete: false };
    this.#setUp.set(pod.metadata.uid, pods);
    const setUp = pods.volumes;
    for (const volume of pod.spec.volumes ?? []) {
      const kept = volume.persistentVolumeClaim ? setUp.get(volume.name) : undefined;
      if (kept) {
        volumes.set(volume.name, kept.mounted);
        continue;
      }
      const plugin = pluginFor(volume);
      if (!plugin) {
        const served = Plugins.map(([field]) => field).join(', ');
        return { ok: false, volume: volume.name, message: `volume kind ${volumeKind(volume)} is not served by dockerlet (it serves ${served})` };
      }
      // A failed file system call or mount fails the volume like a failed check (FailedMount).
      const result = await plugin
        .setUp(volume, {
          pod,
          dir: this.#o.rootDir.volumeDir(pod.metadata.uid, plugin.name, volume.name),
          objects: sources.objects,
          nodeAllocatable: this.#o.nodeAllocatable,
          allowedHostPathPrefixes: this.#o.allowedHostPathPrefixes,
          tokens: sources.tokens,
          claims: sources.claims,
          node: this.#o.node,
        })
        .catch((err: unknown) => ({ ok: false as const, message: errorMessage(err) }));
      if (!result.ok) return { ok: false, volume: volume.name, message: result.message };
      const mounted = { hostPath: result.hostPath, readOnly: result.readOnly };
      volumes.set(volume.name, mounted);
      setUp.set(volume.name, { mounted, ...(result.usagePath !== undefined ? { usagePath: result.usagePath } : {}), ...(result.claim ? { claim: result.claim } : {}) });
    }
    pods.complete = true;
    return { ok: true, volumes };
  }

  /**
   * The claims the pod's volumes have mounted; undefined until this agent has set all of them up
   * once (before, its containers, from an earlier agent, may use claims it does not know of).
   */
  claimsOf(uid: string): ClaimRef[] | undefined {
    const setUp = this.#setUp.get(uid);
    return setUp?.complete ? [...setUp.volumes.values()].flatMap((volume) => volume.claim ?? []) : undefined;
  }

  /** Removes the pod's directory and its volumes, unmounting its tmpfs mounts first. */
  async tearDownPod(uid: string): Promise<void> {
    const dir = this.#o.rootDir.podDir(uid);
    for (const volume of this.#setUp.get(uid)?.volumes.values() ?? []) if (volume.usagePath !== undefined) this.#usage.delete(volume.usagePath);
    this.#setUp.delete(uid);
    await unmountAll(dir);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * Usage of each volume of the pod but the host's paths (hostPath volumes and PVs; the kubelet's
   * du metrics): the bytes below it, measured at most once a minute, and its file system's size
   * and free space and inodes; a claim's volume names its claim (pvcRef). A volume not set up yet
   * is left out.
   */
  async volumeStats(pod: DefaultedPod): Promise<VolumeStats[]> {
    const stats: VolumeStats[] = [];
    for (const [name, { usagePath, claim }] of this.#setUp.get(pod.metadata.uid)?.volumes ?? []) {
      if (usagePath === undefined) continue;
      const fs = await fsInfo(usagePath).catch(() => undefined);
      if (!fs) continue;
      // The file system's inodes in use are not the volume's (upstream counts those with du --inodes): left out.
      const { inodesUsed: _fileSystemInodesUsed, ...fileSystem } = fs;
      stats.push({ name, ...fileSystem, usedBytes: await this.#usedBytes(usagePath), ...(claim ? { pvcRef: claim } : {}) });
    }
    return stats;
  }

  async #usedBytes(dir: string): Promise<number> {
    const now = this.#clock.now();
    const cached = this.#usage.get(dir);
    if (cached && now - cached.at < VolumeStatsAggPeriodMs) return cached.bytes;
    const bytes = await diskUsage(dir);
    this.#usage.set(dir, { bytes, at: now });
    return bytes;
  }

  /**
   * Disk usage of each of the pod's disk-backed emptyDirs with a positive sizeLimit (a tmpfs one
   * cannot outgrow its size; a zero limit never evicts, as upstream's size.Sign() == 1).
   */
  async emptyDirUsage(pod: DefaultedPod): Promise<EmptyDirUsage[]> {
    const usage: EmptyDirUsage[] = [];
    for (const volume of pod.spec.volumes ?? []) {
      const source = volume.emptyDir;
      if (!source || source.medium === 'Memory' || source.sizeLimit === undefined) continue;
      const limitBytes = parseQuantity(source.sizeLimit) ?? 0;
      if (limitBytes <= 0) continue;
      const dir = this.#o.rootDir.volumeDir(pod.metadata.uid, emptyDirPlugin.name, volume.name);
      usage.push({ volume: volume.name, usedBytes: await diskUsage(dir), limitBytes });
    }
    return usage;
  }
}
