/** projected (pkg/volume/projected): configMap, secret and downwardAPI sources in one directory. */
import { projectedPayload } from '../projections.js';
import { writePayloadVolume } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export const projectedPlugin: VolumePlugin = {
  name: 'projected',
  setUp(volume, ctx) {
    return writePayloadVolume(ctx.dir, projectedPayload(volume.projected!, ctx.pod, ctx.objects, ctx.nodeAllocatable));
  },
};
