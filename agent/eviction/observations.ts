/**
 * What node-pressure eviction observes (the kubelet's makeSignalObservations, from the same
 * figures as the Summary API): the node's available memory, the root dir's file system
 * (nodefs) and the engine's (imagefs) in bytes and inodes, and the PIDs left; and, for ranking,
 * each pod's memory working set and its ephemeral storage in volumes.
 */
import type { DefaultedPod } from '../../common/api/types.js';
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

/**
 * The pod's running containers' memory working set (a container that cannot be sampled counts
 * 0) and the bytes in its volumes but its claims' (local ephemeral storage, as the kubelet's
 * podLocalEphemeralStorageUsage counts volumes; writable layers and logs are not counted here).
 */
export async function podUsage(
  pod: DefaultedPod,
  deps: { running(uid: string): RunningPod | undefined; runtime: Pick<ContainerRuntime, 'containerStats'>; volumes: Pick<VolumeManager, 'volumeStats'> },
): Promise<PodUsage> {
  const live = (deps.running(pod.metadata.uid)?.containers ?? []).filter((container) => container.state === 'running');
  const containers = await Promise.all(
    live.map(async (container) => ({
      name: container.name,
      memoryBytes: (await deps.runtime.containerStats(container.id).catch(() => undefined))?.memory.workingSetBytes ?? 0,
      diskBytes: 0,
    })),
  );
  const volumes = await deps.volumes.volumeStats(pod).catch(() => []);
  return {
    memoryBytes: containers.reduce((sum, container) => sum + container.memoryBytes, 0),
    diskBytes: volumes.filter((volume) => !volume.pvcRef).reduce((sum, volume) => sum + volume.usedBytes, 0),
    containers,
  };
}
