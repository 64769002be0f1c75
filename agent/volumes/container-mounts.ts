/**
 * A container's volumeMounts -> the runtime's mounts (kubelet_pods.go makeMounts): readOnly when
 * the mount or the volume says so; subPath (or subPathExpr, expanded from the container's
 * environment) mounts a path inside the volume, created as a directory when missing in a
 * writable volume and refused when it leads out of the volume; mountPropagation as Docker's
 * bind propagation. A subPath of an atomically written volume binds the file itself, so it does
 * not follow updates (as upstream).
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Container } from '../api/types.js';
import { expandVariables } from '../podworkers/env.js';
import type { Mount } from '../runtime/runtime.js';
import type { MountedVolume } from './volume-manager.js';

export type ContainerMounts = { ok: true; mounts: Mount[] } | { ok: false; message: string };

const Propagation: Record<string, Mount['propagation'] | undefined> = {
  None: undefined,
  HostToContainer: 'rslave',
  Bidirectional: 'rshared',
};

export async function containerMounts(
  container: Container,
  volumes: ReadonlyMap<string, MountedVolume>,
  env: ReadonlyMap<string, string>,
): Promise<ContainerMounts> {
  const mounts: Mount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) return { ok: false, message: `volume "${mount.name}" of volumeMount ${mount.mountPath} is not mounted` };
    let hostPath = volume.hostPath;
    const subPath = mount.subPathExpr !== undefined ? expandVariables(mount.subPathExpr, (name) => env.get(name)) : mount.subPath;
    if (subPath) {
      const resolved = await resolveSubPath(volume, subPath);
      if (!resolved.ok) return { ok: false, message: `failed to prepare subPath for volumeMount "${mount.name}" of container "${container.name}": ${resolved.message}` };
      hostPath = resolved.path;
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

async function resolveSubPath(volume: MountedVolume, subPath: string): Promise<{ ok: true; path: string } | { ok: false; message: string }> {
  if (isAbsolute(subPath) || subPath.split('/').includes('..')) return { ok: false, message: `subPath ${JSON.stringify(subPath)} must be a relative path without '..'` };
  const wanted = join(volume.hostPath, subPath);
  if (!(await stat(wanted).catch(() => undefined))) {
    if (volume.readOnly) return { ok: false, message: `subPath ${JSON.stringify(subPath)} does not exist in the read-only volume` };
    await mkdir(wanted, { recursive: true, mode: 0o755 });
  }
  // Symlinks inside the volume (a container can make them) must not lead out of it.
  const root = await realpath(volume.hostPath);
  const real = await realpath(wanted);
  const within = relative(root, real);
  if (within.startsWith(`..${sep}`) || within === '..' || isAbsolute(within)) {
    return { ok: false, message: `subPath ${JSON.stringify(subPath)} resolves to ${real}, outside the volume` };
  }
  return { ok: true, path: real };
}
