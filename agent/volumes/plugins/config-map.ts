/**
 * configMap (pkg/volume/configmap: SetUpAt + MakePayload): the ConfigMap's keys as files, updated
 * in place when it changes.
 */
import type { ConfigMap, ConfigMapVolumeSource, KeyToPath } from '../../../common/api/types.js';
import { configMapEntries } from '../../config/config-objects.js';
import { DefaultVolumeFileMode, keyedPayload, result, writePayloadVolume, type Collected, type PayloadResult } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export function collectConfigMap(
  name: string,
  items: readonly KeyToPath[] | undefined,
  optional: boolean,
  configMap: ConfigMap | undefined,
  defaultMode: number,
): Collected {
  // A missing optional ConfigMap stands for an empty one (SetUpAt).
  if (!configMap && !optional) return { payload: new Map(), errors: [`configmap "${name}" not found`] };
  const entries = configMap ? configMapEntries(configMap) : new Map<string, Buffer>();
  return keyedPayload(items, entries, defaultMode, optional, (key) => `configmap references non-existent config key: ${key}`);
}

/** A configMap volume's files. `configMap` is the object the source names, if there is one. */
export function configMapPayload(source: ConfigMapVolumeSource, configMap: ConfigMap | undefined): PayloadResult {
  return result(collectConfigMap(source.name ?? '', source.items, source.optional === true, configMap, source.defaultMode ?? DefaultVolumeFileMode));
}

export const configMapPlugin: VolumePlugin = {
  name: 'configmap',
  setUp(volume, ctx) {
    const source = volume.configMap!;
    return writePayloadVolume(ctx, configMapPayload(source, ctx.objects.configMap(ctx.pod.metadata.namespace, source.name!)), 'disk');
  },
};
