/**
 * A container's volumeMounts -> the runtime's mounts (kubelet_pods.go makeMounts): readOnly when
 * the mount or the volume says so; subPath (or subPathExpr, expanded from the container's
 * environment, every variable required) mounts a path inside the volume, created as a directory
 * when missing in a writable volume (with the volume's own mode, as SafeMakeDir does; never
 * through a symlink that leads out of the volume) and refused when it leads out of the volume;
 * mountPropagation as Docker's bind propagation. A subPath of an atomically written volume binds
 * the file itself, so it does not follow updates (as upstream). Unlike upstream, which creates
 * a missing subPath in any volume, a read-only volume's content is only what its source says.
 */
import { chmod, mkdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { errorMessage } from '../../common/api/errors.js';
import type { Container } from '../../common/api/types.js';
import { expandVariables } from '../envvars/env.js';
import type { Mount } from '../runtime/runtime.js';
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

export async function containerMounts(
  container: Container,
  volumes: ReadonlyMap<string, MountedVolume>,
  env: ReadonlyMap<string, string>,
): Promise<ContainerMounts> {
  const mounts: Mount[] = [];
  for (const mount of container.volumeMounts ?? []) {
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
      const resolved = await resolveSubPath(volume, subPath).catch((err: unknown) => ({ ok: false as const, message: errorMessage(err) }));
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

type Resolved = { ok: true; path: string } | { ok: false; message: string };

/**
 * Where `subPath` (relative, without '..') of `volume` leads, its symlinks resolved, creating what
 * is missing (doSafeMakeDir: the existing part must resolve inside the volume before anything is
 * made; each new directory gets the volume's permission bits, whatever the umask).
 */
async function resolveSubPath(volume: MountedVolume, subPath: string): Promise<Resolved> {
  const root = await realpath(volume.hostPath);
  const outside = (real: string): boolean => {
    const within = relative(root, real);
    return within === '..' || within.startsWith(`..${sep}`) || isAbsolute(within);
  };
  const refused = (real: string): Resolved => ({ ok: false, message: `subPath ${JSON.stringify(subPath)} resolves to ${real}, outside the volume` });

  // The longest part of the path that exists, and where it leads.
  const parts = subPath.split('/').filter((part) => part !== '' && part !== '.');
  let existing = root;
  let index = 0;
  for (; index < parts.length; index++) {
    const next = await realpath(join(existing, parts[index]!)).catch(() => undefined);
    if (next === undefined) break;
    existing = next;
  }
  const missing = parts.slice(index);
  if (outside(existing)) return refused(join(existing, ...missing));
  if (missing.length === 0) return { ok: true, path: existing };

  if (volume.readOnly) return { ok: false, message: `subPath ${JSON.stringify(subPath)} does not exist in the read-only volume` };
  if (!(await stat(existing)).isDirectory()) return { ok: false, message: `subPath ${JSON.stringify(subPath)}: ${existing} is not a directory` };
  const mode = (await stat(root)).mode & 0o777;
  let current = existing;
  for (const part of missing) {
    current = join(current, part);
    // Not recursive: a name that is a (dangling) symlink fails with EEXIST instead of being followed.
    await mkdir(current, { mode });
    await chmod(current, mode);
  }
  return { ok: true, path: current };
}
