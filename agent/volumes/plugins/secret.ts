/** secret (pkg/volume/secret): the Secret's keys as files on a tmpfs, so they never touch the disk. */
import { mkdir } from 'node:fs/promises';
import { mountTmpfs } from '../mounts.js';
import { secretPayload } from '../projections.js';
import { writePayloadVolume } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export const secretPlugin: VolumePlugin = {
  name: 'secret',
  async setUp(volume, ctx) {
    const source = volume.secret!;
    const payload = secretPayload(source, ctx.objects.secret(ctx.pod.metadata.namespace, source.secretName!));
    if (!payload.ok) return payload;
    await mkdir(ctx.dir, { recursive: true });
    await mountTmpfs(ctx.dir, { mode: 0o755 });
    return writePayloadVolume(ctx.dir, payload);
  },
};
