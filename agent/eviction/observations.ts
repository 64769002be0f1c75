/**
 * What node-pressure eviction observes (the kubelet's makeSignalObservations, from the same
 * figures as the Summary API): the node's available memory, the root dir's file system
 * (nodefs) and the engine's (imagefs) in bytes and inodes, and the PIDs left; and, for ranking,
 * each pod's memory working set and its ephemeral storage in volumes.
 */
import type { DefaultedPod } from '../../common/api/types.js';
import type { FsInfo } from '../../common/util/fs-usage.js';
import { fsInfo } from '../../common/util/fs-usage.js';
import type { ContainerRuntime, RunningPod } from '../runtime/runtime.js';
import { readNodeStats } from '../stats/node-stats.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import type { Observations, PodUsage } from './node-pressure.js';

export async function observeNode(options: { rootDir: string; memoryCapacityBytes: number; imageFs(): Promise<FsInfo>; now: number }): Promise<Observations> {
  const [node, nodefs, imagefs] = await Promise.all([readNodeStats(options.rootDir, options.now), fsInfo(options.rootDir), options.imageFs()]);
  return {
    'memory.available': { available: node.memory.availableBytes ?? 0, capacity: options.memoryCapacityBytes },
    'nodefs.available': { available: nodefs.availableBytes, capacity: nodefs.capacityBytes },
    'nodefs.inodesFree': { available: nodefs.inodesFree, capacity: nodefs.inodes },
    'imagefs.available': { available: imagefs.availableBytes, capacity: imagefs.capacityBytes },
    'imagefs.inodesFree': { available: imagefs.inodesFree, capacity: imagefs.inodes },
    'pid.available': { available: node.rlimit.maxpid - node.rlimit.curproc, capacity: node.rlimit.maxpid },
  };
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
