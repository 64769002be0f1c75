/**
 * downwardAPI (pkg/volume/downwardapi: CollectData): the pod's own fields and its containers'
 * resources as files on a tmpfs (as upstream's), rewritten when they change.
 */
import type { DefaultedPod, DownwardAPIVolumeFile } from '../../../common/api/types.js';
import { extractFieldPath, type FieldValue } from '../../fieldpath/field-path.js';
import { findContainer, resourceFieldRefValue } from '../../fieldpath/resource-field.js';
import type { NodeAllocatable } from '../../node/node-facts.js';
import type { FileProjection } from '../atomic-writer.js';
import { cleanItemPath, DefaultVolumeFileMode, result, writePayloadVolume, type Collected, type PayloadResult } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

/** One item's value: a metadata field, or a named container's resource. */
function itemValue(pod: DefaultedPod, item: DownwardAPIVolumeFile, nodeAllocatable: NodeAllocatable): FieldValue {
  if (item.fieldRef) return extractFieldPath(pod, item.fieldRef.fieldPath);
  if (!item.resourceFieldRef) return { ok: true, value: '' };
  // API validation requires the container in a volume (there is no "this container" to default to).
  if (!item.resourceFieldRef.containerName) return { ok: false, message: `downwardAPI item "${item.path}": resourceFieldRef.containerName is required in a volume` };
  return resourceFieldRefValue(findContainer(pod, item.resourceFieldRef.containerName), item.resourceFieldRef, nodeAllocatable);
}

export function collectDownwardApi(
  items: readonly DownwardAPIVolumeFile[],
  defaultMode: number,
  pod: DefaultedPod,
  nodeAllocatable: NodeAllocatable,
): Collected {
  const payload = new Map<string, FileProjection>();
  const errors: string[] = [];
  for (const item of items) {
    const mode = item.mode ?? defaultMode;
    const field = itemValue(pod, item, nodeAllocatable);
    if (!field.ok) errors.push(field.message);
    payload.set(cleanItemPath(item.path), { data: Buffer.from(field.ok ? field.value : '', 'utf8'), mode });
  }
  return { payload, errors };
}

/**
 * A downwardAPI volume's files (CollectData): each item's value at its path. Every item is
 * evaluated; the failures are reported together.
 */
export function downwardApiPayload(
  items: readonly DownwardAPIVolumeFile[],
  defaultMode: number,
  pod: DefaultedPod,
  nodeAllocatable: NodeAllocatable,
): PayloadResult {
  return result(collectDownwardApi(items, defaultMode, pod, nodeAllocatable));
}

export const downwardApiPlugin: VolumePlugin = {
  name: 'downward-api',
  setUp(volume, ctx) {
    const source = volume.downwardAPI!;
    return writePayloadVolume(ctx, downwardApiPayload(source.items ?? [], source.defaultMode ?? DefaultVolumeFileMode, ctx.pod, ctx.nodeAllocatable), 'memory');
  },
};
