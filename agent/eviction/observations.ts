/**
 * What node-pressure eviction observes (the kubelet's makeSignalObservations, from the same
 * figures as the Summary API): the node's available memory, the root dir's file system
 * (nodefs) and the engine's (imagefs) in bytes and inodes, and the PIDs left; and, for ranking,
 * each pod's memory working set or its ephemeral storage.
 */
import type { DefaultedPod, Volume } from '../../common/api/types.js';
import type { FsInfo } from '../../common/util/fs-usage.js';
import type { ContainerRuntime, RunningPod } from '../runtime/runtime.js';
import { readNodeStats } from '../stats/node-stats.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import type { Observations, PodUsage } from './node-pressure.js';

/**
 * The signals that could be read: one that cannot (the engine does not answer for the image fs)
 * is left out, and the others are still acted on. The image fs is read only when `imageFs` is given.
 */
export async function observeNode(options: { rootDir: string; memoryCapacityBytes: number; imageFs?: () => Promise<FsInfo>; now: number }): Promise<Observations> {
  const [node, imagefs] = await Promise.allSettled([readNodeStats(options.rootDir, options.now), options.imageFs?.()]);
  const observations: Observations = {};
  if (node.status === 'fulfilled') {
    const { memory, fs, rlimit } = node.value;
    observations['memory.available'] = { available: memory.availableBytes ?? 0, capacity: options.memoryCapacityBytes };
    observations['nodefs.available'] = { available: fs.availableBytes, capacity: fs.capacityBytes };
    observations['nodefs.inodesFree'] = { available: fs.inodesFree ?? 0, capacity: fs.inodes ?? 0 };
    observations['pid.available'] = { available: rlimit.maxpid - rlimit.curproc, capacity: rlimit.maxpid };
  }
  if (imagefs.status === 'fulfilled' && imagefs.value) {
    observations['imagefs.available'] = { available: imagefs.value.availableBytes, capacity: imagefs.value.capacityBytes };
    observations['imagefs.inodesFree'] = { available: imagefs.value.inodesFree, capacity: imagefs.value.inodes };
  }
  return observations;
}

/** Whether a volume's bytes count as the pod's local ephemeral storage (upstream's IsLocalEphemeralVolume): an emptyDir of the default medium, a configMap, a gitRepo. */
export function isLocalEphemeralVolume(volume: Volume): boolean {
  return (volume.emptyDir !== undefined && !volume.emptyDir.medium) || volume.configMap !== undefined || volume.gitRepo !== undefined;
}

/**
 * The pod's use of `resource` by its running containers (rejects when one cannot be measured:
 * the caller says so), as the kubelet's eviction reads it from the Summary API: for memory, each container's
 * working set; for ephemeral storage, each container's writable layer and logs, plus the pod's
 * local ephemeral volumes (podLocalEphemeralStorageUsage).
 */
export async function podUsage(
  pod: DefaultedPod,
  resource: 'memory' | 'ephemeral-storage',
  deps: { running(uid: string): RunningPod | undefined; runtime: Pick<ContainerRuntime, 'containerStats' | 'containerFsUsage'>; volumes: Pick<VolumeManager, 'volumeStats'> },
): Promise<PodUsage> {
  const live = (deps.running(pod.metadata.uid)?.containers ?? []).filter((container) => container.state === 'running');
  if (resource === 'memory') {
    const containers = await Promise.all(
      live.map(async (container) => ({
        name: container.name,
        memoryBytes: (await deps.runtime.containerStats(container.id))?.memory.workingSetBytes ?? 0,
        diskBytes: 0,
      })),
    );
    return { memoryBytes: containers.reduce((sum, container) => sum + container.memoryBytes, 0), diskBytes: 0, containers };
  }
  const containers = await Promise.all(
    live.map(async (container) => {
      const fs = await deps.runtime.containerFsUsage(container.id);
      return { name: container.name, memoryBytes: 0, diskBytes: fs ? fs.writableLayerBytes + fs.logsBytes : 0 };
    }),
  );
  const local = new Set((pod.spec.volumes ?? []).filter(isLocalEphemeralVolume).map((volume) => volume.name));
  const volumes = (await deps.volumes.volumeStats(pod)).filter((volume) => local.has(volume.name));
  const diskBytes = [...containers.map((container) => container.diskBytes), ...volumes.map((volume) => volume.usedBytes)].reduce((sum, bytes) => sum + bytes, 0);
  return { memoryBytes: 0, diskBytes, containers };
}
