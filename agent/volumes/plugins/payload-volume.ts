/**
 * What configMap, secret, downwardAPI and projected volumes share: their content is a payload
 * of files, written into the volume's directory by the atomic writer, so a container reading
 * it never sees half of an update; containers may only read it. With the pod's fsGroup, the
 * files are the group's (group read) from the moment they appear, and so is the volume's root.
 *
 * With no items, every key is a file named after it; with items, only their keys, at their paths.
 * A file's mode is its item's mode, else the volume's defaultMode (0644 by default). A missing
 * object or key fails the volume unless the source is optional. Errors of several items or
 * sources are reported together, as utilerrors.NewAggregate prints them.
 */
import { mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { aggregateMessage } from '../../../common/api/errors.js';
import type { KeyToPath } from '../../../common/api/types.js';
import { writeAtomically, type FileProjection, type Payload } from '../atomic-writer.js';
import { mountTmpfs } from '../mounts.js';
import { setOwnership } from '../ownership.js';
import { memoryVolumeSize, TmpfsMode } from './empty-dir.js';
import type { VolumeContext, VolumeSetUp } from './volume-plugin.js';

export type PayloadResult = { ok: true; payload: Payload } | { ok: false; message: string };

/** SetDefaults_{ConfigMap,Secret,DownwardAPI,Projected}VolumeSource: defaultMode 0644. */
export const DefaultVolumeFileMode = 0o644;

export type Collected = { payload: Map<string, FileProjection>; errors: string[] };

export function result({ payload, errors }: Collected): PayloadResult {
  return errors.length === 0 ? { ok: true, payload } : { ok: false, message: aggregateMessage(errors) };
}

/**
 * MakePayload for both kinds: all `entries` when there are no mappings, else each mapped key at
 * its path (a missing key skipped when optional, else `missingKey(key)`).
 */
export function keyedPayload(
  mappings: readonly KeyToPath[] | undefined,
  entries: ReadonlyMap<string, Buffer>,
  defaultMode: number,
  optional: boolean,
  missingKey: (key: string) => string,
): Collected {
  const payload = new Map<string, FileProjection>();
  if (!mappings || mappings.length === 0) {
    for (const [key, data] of entries) payload.set(key, { data, mode: defaultMode });
    return { payload, errors: [] };
  }
  for (const { key, path, mode } of mappings) {
    const data = entries.get(key);
    if (data === undefined) {
      if (optional) continue;
      return { payload: new Map(), errors: [missingKey(key)] };
    }
    payload.set(path, { data, mode: mode ?? defaultMode });
  }
  return { payload, errors: [] };
}

/** filepath.Clean of an item path (validation has already refused absolute paths and '..'). */
export function cleanItemPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/**
 * Writes `payload` into the volume's directory (the atomic writer's swap), owned by the pod's
 * fsGroup when it has one. `memory`: the directory is a tmpfs first, so the files never touch the
 * disk (secret, downwardAPI and projected volumes wrap a memory-backed emptyDir upstream; a
 * configMap's is on disk).
 */
export async function writePayloadVolume(ctx: VolumeContext, payload: PayloadResult, medium: 'disk' | 'memory'): Promise<VolumeSetUp> {
  if (!payload.ok) return payload;
  const { dir, pod } = ctx;
  const fsGroup = pod.spec.securityContext?.fsGroup;
  await mkdir(dir, { recursive: true });
  if (medium === 'memory') await mountTmpfs(dir, { sizeBytes: memoryVolumeSize(pod, undefined, ctx.nodeAllocatable.memoryBytes), mode: TmpfsMode });
  const written = await writeAtomically(dir, payload.payload, fsGroup);
  if (!written.ok) return written;
  if (fsGroup !== undefined) await setOwnership(dir, fsGroup, true);
  return { ok: true, hostPath: dir, readOnly: true, usagePath: dir };
}
