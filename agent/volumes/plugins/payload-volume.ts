/**
 * What configMap, secret, downwardAPI and projected volumes share: their content is a payload
 * of files, written into the volume's directory by the atomic writer, so a container reading
 * it never sees half of an update; containers may only read it. With the pod's fsGroup, the
 * files are the group's (group read) from the moment they appear, and so is the volume's root.
 */
import { mkdir } from 'node:fs/promises';
import type { DefaultedPod } from '../../../common/api/types.js';
import { writeAtomically } from '../atomic-writer.js';
import { setOwnership } from '../ownership.js';
import type { PayloadResult } from '../projections.js';
import type { VolumeSetUp } from './volume-plugin.js';

export async function writePayloadVolume(dir: string, payload: PayloadResult, pod: DefaultedPod): Promise<VolumeSetUp> {
  if (!payload.ok) return payload;
  const fsGroup = pod.spec.securityContext?.fsGroup;
  await mkdir(dir, { recursive: true });
  const written = await writeAtomically(dir, payload.payload, fsGroup);
  if (!written.ok) return written;
  if (fsGroup !== undefined) await setOwnership(dir, fsGroup, true);
  return { ok: true, hostPath: dir, readOnly: true };
}
