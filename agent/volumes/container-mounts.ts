/**
 * A container's volumeMounts -> the runtime's mounts (kubelet_pods.go makeMounts): readOnly when
 * the mount or the volume says so; subPath (or subPathExpr, expanded from the container's
 * environment, every variable required) mounts a path inside the volume, created as a directory
 * when missing in a writable volume (with the volume's own mode, as SafeMakeDir does) and
 * refused when it leads out of the volume, bound through a descriptor where the container
 * cannot swap it (subpath.ts); mountPropagation as Docker's bind propagation. A subPath of an
 * atomically written volume binds the file itself, so it does not follow updates (as
 * upstream). Unlike upstream, which creates a missing subPath in any volume, a read-only
 * volume's content is only what its source says.
 */
import { isAbsolute } from 'node:path';
import { errorMessage } from '../../common/api/errors.js';
import type { Container } from '../../common/api/types.js';
import { expandVariables } from '../envvars/env.js';
import type { Mount } from '../runtime/runtime.js';
import { prepareSubPath } from './subpath.js';
import type { MountedVolume } from './volume-manager.js';

export type ContainerMounts = { ok: true; mounts: Mount[] } | { ok: false; message: string };

const Propagation: Record<string, Mount['propagation'] | undefined> = {
  None: undefined,
  HostToContainer: 'rslave',
  Bidirectional: 'rshared',
};

/** ExpandContainerVolumeMounts: every referenced variable must have a non-empty value. */
function expandSubPathExpr(expression: string, env: ReadonlyMap<string, string>): { ok: true; subPath: string } | { ok: false; message: string } {
  const missing = new Set<string>();
  const subPath = expandVariables(expression, (name) => {
    const value = env.get(name);
    if (value === undefined || value === '') missing.add(name);
    return value ?? '';
  });
  if (missing.size > 0) return { ok: false, message: `missing value for ${[...missing].sort().join(', ')}` };
  return { ok: true, subPath };
}

/**
 * `subPathTarget(volume, index)`: where the subPath of the container's `index`th volumeMount is
 * bound (RootDir.volumeSubPath).
 */
export async function containerMounts(
  container: Container,
  volumes: ReadonlyMap<string, MountedVolume>,
  env: ReadonlyMap<string, string>,
  subPathTarget: (volumeName: string, index: number) => string,
): Promise<ContainerMounts> {
  const mounts: Mount[] = [];
  for (const [index, mount] of (container.volumeMounts ?? []).entries()) {
    const volume = volumes.get(mount.name);
    if (!volume) return { ok: false, message: `cannot find volume "${mount.name}" to mount into container "${container.name}"` };
    let hostPath = volume.hostPath;
    let subPath = mount.subPath;
    if (mount.subPathExpr) {
      const expanded = expandSubPathExpr(mount.subPathExpr, env);
      if (!expanded.ok) return expanded;
      subPath = expanded.subPath;
    }
    if (subPath) {
      if (isAbsolute(subPath)) return { ok: false, message: `error SubPath \`${subPath}\` must not be an absolute path` };
      if (subPath.split('/').includes('..')) return { ok: false, message: `unable to provision SubPath \`${subPath}\`: must not contain '..'` };
      const prepared = await prepareSubPath(volume, subPath, subPathTarget(mount.name, index)).catch((err: unknown) => ({ ok: false as const, message: errorMessage(err) }));
      if (!prepared.ok) return { ok: false, message: `failed to prepare subPath for volumeMount "${mount.name}" of container "${container.name}": ${prepared.message}` };
      hostPath = prepared.hostPath;
    }
    const propagation = Propagation[mount.mountPropagation ?? 'None'];
    mounts.push({
      hostPath,
      containerPath: mount.mountPath,
      readOnly: mount.readOnly === true || volume.readOnly,
      ...(propagation ? { propagation } : {}),
    });
  }
  return { ok: true, mounts };
}
