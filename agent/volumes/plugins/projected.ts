/** projected (pkg/volume/projected): configMap, secret, downwardAPI and serviceAccountToken sources in one directory. */
import type { ServiceAccountTokenProjection } from '../../../common/api/types.js';
import { projectedPayload } from '../projections.js';
import { writePayloadVolume } from './payload-volume.js';
import type { TokenResult, VolumePlugin } from './volume-plugin.js';

export const projectedPlugin: VolumePlugin = {
  name: 'projected',
  async setUp(volume, ctx) {
    const source = volume.projected!;
    const tokens = new Map<ServiceAccountTokenProjection, TokenResult>();
    for (const projection of source.sources ?? []) {
      const request = projection.serviceAccountToken;
      if (request && ctx.tokens) tokens.set(request, await ctx.tokens.token(ctx.pod, request));
    }
    return writePayloadVolume(ctx.dir, projectedPayload(source, ctx.pod, ctx.objects, ctx.nodeAllocatable, tokens), ctx.pod);
  },
};
