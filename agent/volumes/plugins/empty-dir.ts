/**
 * emptyDir (pkg/volume/emptydir): a directory of the pod's, writable by every container user
 * (0777), kept across container and agent restarts and removed with the pod. medium: Memory is
 * a tmpfs sized by sizeLimit, else by the node's allocatable memory (SizeMemoryBackedVolumes).
 */
import { chmod, mkdir } from 'node:fs/promises';
import { parseQuantity } from '../../api/quantity.js';
import { mountTmpfs } from '../mounts.js';
import type { VolumePlugin } from './volume-plugin.js';

const EmptyDirMode = 0o777;

export const emptyDirPlugin: VolumePlugin = {
  name: 'empty-dir',
  async setUp(volume, ctx) {
    await mkdir(ctx.dir, { recursive: true });
    const source = volume.emptyDir ?? {};
    if (source.medium === 'Memory') {
      const limit = source.sizeLimit !== undefined ? parseQuantity(source.sizeLimit) : undefined;
      await mountTmpfs(ctx.dir, { sizeBytes: limit || ctx.nodeAllocatable.memoryBytes, mode: EmptyDirMode });
    }
    await chmod(ctx.dir, EmptyDirMode);
    return { ok: true, hostPath: ctx.dir, readOnly: false };
  },
};
