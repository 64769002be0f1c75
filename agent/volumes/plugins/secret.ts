/**
 * secret (pkg/volume/secret): the Secret's keys as files on a tmpfs, so they never touch the
 * disk. Upstream wraps a memory-backed emptyDir with no sizeLimit: the tmpfs has the default root
 * mode (1777) and is sized by the pod's memory limit or the node's allocatable memory.
 */
import { mkdir } from 'node:fs/promises';
import { mountTmpfs } from '../mounts.js';
import { secretPayload } from '../projections.js';
import { memoryVolumeSize, TmpfsMode } from './empty-dir.js';
import { writePayloadVolume } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export const secretPlugin: VolumePlugin = {
  name: 'secret',
  async setUp(volume, ctx) {
    const source = volume.secret!;
    const payload = secretPayload(source, ctx.objects.secret(ctx.pod.metadata.namespace, source.secretName!));
    if (!payload.ok) return payload;
    await mkdir(ctx.dir, { recursive: true });
    await mountTmpfs(ctx.dir, { sizeBytes: memoryVolumeSize(ctx.pod, undefined, ctx.nodeAllocatable.memoryBytes), mode: TmpfsMode });
    return writePayloadVolume(ctx.dir, payload, ctx.pod);
  },
};
