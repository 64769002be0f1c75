/** downwardAPI (pkg/volume/downwardapi): the pod's own fields as files, rewritten when they change. */
import { downwardApiPayload } from '../projections.js';
import { writePayloadVolume } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export const downwardApiPlugin: VolumePlugin = {
  name: 'downward-api',
  setUp(volume, ctx) {
    const source = volume.downwardAPI!;
    return writePayloadVolume(ctx.dir, downwardApiPayload(source.items ?? [], source.defaultMode ?? 0o644, ctx.pod, ctx.nodeAllocatable), ctx.pod);
  },
};
