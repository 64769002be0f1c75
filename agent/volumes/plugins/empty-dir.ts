/**
 * emptyDir (pkg/volume/emptydir): a directory of the pod's, writable by every container user
 * (0777), kept across container and agent restarts and removed with the pod. medium: Memory is
 * a tmpfs (its root mode the tmpfs default, 1777, as upstream mounts it with no mode) sized as
 * calculateEmptyDirMemorySize sizes it (SizeMemoryBackedVolumes).
 */
import { chmod, mkdir } from 'node:fs/promises';
import { isSidecar } from '../../../common/api/pod-helpers.js';
import { parseQuantity } from '../../../common/api/quantity.js';
import type { Container, DefaultedPod } from '../../../common/api/types.js';
import { mountTmpfs } from '../mounts.js';
import { fsGroupMode, setOwnership } from '../ownership.js';
import type { VolumePlugin } from './volume-plugin.js';

const EmptyDirMode = 0o777;
/** What a tmpfs root is without a mode option, and so what the kubelet's tmpfs volumes are. */
export const TmpfsMode = 0o1777;

function memoryLimit(container: Container): number {
  const limit = container.resources?.limits?.memory;
  return limit === undefined ? 0 : (parseQuantity(limit) ?? 0);
}

/**
 * The pod's memory limit as its cgroup gets it (ResourceConfigForPod, resource.PodLimits): app
 * containers and sidecars summed, at least any regular init container with the sidecars started
 * before it, plus the pod overhead; undefined unless every container declares one.
 */
export function podMemoryLimit(pod: DefaultedPod): number | undefined {
  const initContainers = pod.spec.initContainers ?? [];
  if ([...initContainers, ...pod.spec.containers].some((c) => memoryLimit(c) <= 0)) return undefined;
  let limit = pod.spec.containers.reduce((sum, c) => sum + memoryLimit(c), 0);
  let sidecars = 0;
  let init = 0;
  for (const container of initContainers) {
    if (isSidecar(container)) {
      limit += memoryLimit(container);
      sidecars += memoryLimit(container);
      init = Math.max(init, sidecars);
    } else {
      init = Math.max(init, memoryLimit(container) + sidecars);
    }
  }
  const overhead = pod.spec.overhead?.memory;
  return Math.max(limit, init) + (overhead === undefined ? 0 : (parseQuantity(overhead) ?? 0));
}

/**
 * calculateEmptyDirMemorySize: the node's allocatable memory, lowered to the pod's memory limit
 * and then to the volume's sizeLimit, each only when positive and not above what it replaces.
 * Undefined (the kernel's default) only when none of them is known: a tmpfs size of 0 would
 * mean no limit at all.
 */
export function memoryVolumeSize(pod: DefaultedPod, sizeLimit: string | number | undefined, allocatableBytes: number): number | undefined {
  let size = allocatableBytes > 0 ? allocatableBytes : undefined;
  const lower = (limit: number | undefined): void => {
    if (limit !== undefined && limit > 0 && (size === undefined || limit <= size)) size = limit;
  };
  lower(podMemoryLimit(pod));
  lower(sizeLimit === undefined ? undefined : parseQuantity(sizeLimit));
  return size;
}

export const emptyDirPlugin: VolumePlugin = {
  name: 'empty-dir',
  async setUp(volume, ctx) {
    const created = (await mkdir(ctx.dir, { recursive: true })) !== undefined;
    const source = volume.emptyDir ?? {};
    const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
    if (source.medium === 'Memory') {
      const sizeBytes = memoryVolumeSize(ctx.pod, source.sizeLimit, ctx.nodeAllocatable.memoryBytes);
      // The fsGroup's ownership as mount options: the tmpfs is new, and empty.
      await mountTmpfs(ctx.dir, { sizeBytes, mode: fsGroup === undefined ? TmpfsMode : fsGroupMode(TmpfsMode, true, false), ...(fsGroup !== undefined ? { gid: fsGroup } : {}) });
    } else if (created) {
      await chmod(ctx.dir, EmptyDirMode);
      // New and empty, before any container: its root is all the fsGroup's ownership has to cover.
      if (fsGroup !== undefined) await setOwnership(ctx.dir, fsGroup, false);
    }
    return { ok: true, hostPath: ctx.dir, readOnly: false, usagePath: ctx.dir };
  },
};
