/**
 * What configMap, secret, downwardAPI and projected volumes share: their content is a payload
 * of files, written into the volume's directory by the atomic writer, so a container reading
 * it never sees half of an update; containers may only read it.
 */
import { mkdir } from 'node:fs/promises';
import { writeAtomically } from '../atomic-writer.js';
import type { PayloadResult } from '../projections.js';
import type { VolumeSetUp } from './volume-plugin.js';

export async function writePayloadVolume(dir: string, payload: PayloadResult): Promise<VolumeSetUp> {
  if (!payload.ok) return payload;
  await mkdir(dir, { recursive: true });
  const written = await writeAtomically(dir, payload.payload);
  if (!written.ok) return written;
  return { ok: true, hostPath: dir, readOnly: true };
}
