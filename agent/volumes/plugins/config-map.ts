/** configMap (pkg/volume/configmap): the ConfigMap's keys as files, updated in place when it changes. */
import { configMapPayload } from '../projections.js';
import { writePayloadVolume } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export const configMapPlugin: VolumePlugin = {
  name: 'configmap',
  setUp(volume, ctx) {
    const source = volume.configMap!;
    return writePayloadVolume(ctx.dir, configMapPayload(source, ctx.objects.configMap(ctx.pod.metadata.namespace, source.name!)), ctx.pod);
  },
};
