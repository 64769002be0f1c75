/**
 * secret (pkg/volume/secret: SetUpAt + MakePayload): the Secret's keys as files on a tmpfs, so
 * they never touch the disk. Upstream wraps a memory-backed emptyDir with no sizeLimit: the tmpfs
 * has the default root mode (1777) and is sized by the pod's memory limit or the node's
 * allocatable memory.
 */
import type { KeyToPath, Secret, SecretVolumeSource } from '../../../common/api/types.js';
import { secretEntries } from '../../config/config-objects.js';
import { DefaultVolumeFileMode, keyedPayload, result, writePayloadVolume, type Collected, type PayloadResult } from './payload-volume.js';
import type { VolumePlugin } from './volume-plugin.js';

export function collectSecret(
  name: string,
  items: readonly KeyToPath[] | undefined,
  optional: boolean,
  secret: Secret | undefined,
  defaultMode: number,
): Collected {
  if (!secret && !optional) return { payload: new Map(), errors: [`secret "${name}" not found`] };
  const entries = secret ? secretEntries(secret) : new Map<string, Buffer>();
  return keyedPayload(items, entries, defaultMode, optional, (key) => `references non-existent secret key: ${key}`);
}

/** A secret volume's files. `secret` is the object the source names, if there is one. */
export function secretPayload(source: SecretVolumeSource, secret: Secret | undefined): PayloadResult {
  return result(collectSecret(source.secretName ?? '', source.items, source.optional === true, secret, source.defaultMode ?? DefaultVolumeFileMode));
}

export const secretPlugin: VolumePlugin = {
  name: 'secret',
  async setUp(volume, ctx) {
    const source = volume.secret!;
    return writePayloadVolume(ctx, secretPayload(source, ctx.objects.secret(ctx.pod.metadata.namespace, source.secretName!)), 'memory');
  },
};
