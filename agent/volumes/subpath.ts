/**
 * A subPath made safe from the container that owns the volume (CVE-2021-25741), the way the
 * kubelet's pkg/volume/util/subpath does it on Linux. A container may rewrite its volume at any
 * moment, so a path checked and then handed to Docker could lead elsewhere by the time Docker
 * binds it. Here the path is only ever walked through file descriptors:
 *
 *   1. the subPath's symlinks are resolved once, and the result must lie inside the volume;
 *   2. that path is opened one component at a time, each relative to its parent's descriptor
 *      with O_PATH|O_NOFOLLOW, and a component that has turned into a symlink meanwhile is
 *      refused; missing directories of a writable volume are made the same way, each in its
 *      parent's descriptor, and given the volume's mode through their own;
 *   3. the descriptor's file is bind-mounted (mount --no-canonicalize, from /proc/<pid>/fd/<n>)
 *      on a target in the pod's directory, out of the container's reach, and Docker binds that
 *      target. What is mounted is the very file that was checked, whatever the path says now.
 *
 * A target already mounted with the same file is reused (a restarted container); one mounted
 * with another is unmounted first. The pod's teardown unmounts them all.
 */
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, realpath, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { bindMount, isMountPoint, unmount } from './mounts.js';
import { isWithin } from './root-dir.js';

export type PreparedSubPath = { ok: true; hostPath: string } | { ok: false; message: string };

/** Linux's O_PATH, which Node does not name: a descriptor for walking and stat, never for I/O. */
const O_PATH = 0o10000000;
const openFlags = O_PATH | constants.O_NOFOLLOW;
/** Mounts stacked on a target are unmounted, up to this many. */
const MaxStackedMounts = 16;

/** A path that reaches `handle`'s file itself, whatever has happened to its name since. */
const fdPath = (handle: FileHandle): string => `/proc/self/fd/${handle.fd}`;

/**
 * Bind-mounts `subPath` (relative, without '..') of the volume at `volumePath` on `target`,
 * creating missing directories when the volume is writable; returns the target for Docker.
 */
export async function prepareSubPath(volume: { hostPath: string; readOnly: boolean }, subPath: string, target: string): Promise<PreparedSubPath> {
  const root = await realpath(volume.hostPath);

  // 1. The longest part of the path that exists, its symlinks resolved once, and what is missing.
  const parts = subPath.split('/').filter((part) => part !== '' && part !== '.');
  let existing = root;
  let index = 0;
  for (; index < parts.length; index++) {
    const next = await realpath(join(existing, parts[index]!)).catch(() => undefined);
    if (next === undefined) break;
    existing = next;
  }
  const missing = parts.slice(index);
  if (!isWithin(root, existing)) return { ok: false, message: `subPath ${JSON.stringify(subPath)} resolves to ${join(existing, ...missing)}, outside the volume` };
  if (missing.length > 0 && volume.readOnly) return { ok: false, message: `subPath ${JSON.stringify(subPath)} does not exist in the read-only volume` };

  // 2. Walk it by descriptors, refusing any symlink, and make what is missing.
  let handle = await openInside(root, relative(root, existing).split(sep).filter(Boolean), subPath);
  try {
    if (missing.length > 0) {
      if (!(await handle.stat()).isDirectory()) return { ok: false, message: `subPath ${JSON.stringify(subPath)}: ${existing} is not a directory` };
      const mode = (await stat(root)).mode & 0o777;
      for (const part of missing) {
        const child = await makeDirectoryIn(handle, part, mode, subPath);
        await handle.close();
        handle = child;
      }
    }
    // 3. Bind the descriptor's file.
    await bindOnTarget(handle, target);
    return { ok: true, hostPath: target };
  } finally {
    await handle.close();
  }
}

/** Opens `root`/`parts` one component at a time under the previous one's descriptor; rejects at a symlink. */
async function openInside(root: string, parts: readonly string[], subPath: string): Promise<FileHandle> {
  let handle = await open(root, openFlags | constants.O_DIRECTORY);
  try {
    for (const part of parts) {
      const child = await open(join(fdPath(handle), part), openFlags);
      await handle.close();
      handle = child;
      if ((await handle.stat()).isSymbolicLink()) throw new Error(`subPath ${JSON.stringify(subPath)}: ${part} turned into a symlink while the subPath was prepared`);
    }
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Makes directory `name` in `parent`'s directory (or takes the one there) and opens it; never follows a symlink. */
async function makeDirectoryIn(parent: FileHandle, name: string, mode: number, subPath: string): Promise<FileHandle> {
  const path = join(fdPath(parent), name);
  await mkdir(path, { mode }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const handle = await open(path, openFlags | constants.O_DIRECTORY).catch((err: NodeJS.ErrnoException) => {
    // O_NOFOLLOW|O_DIRECTORY on a symlink or a file: ENOTDIR.
    throw new Error(`subPath ${JSON.stringify(subPath)}: ${name} exists and is not a directory (${err.code})`);
  });
  // chmod through the descriptor: the umask is not applied, and no symlink can be slipped in.
  await chmod(fdPath(handle), mode).catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  return handle;
}

/** Bind-mounts `handle`'s file on `target` (a file or a directory to match it), unless it is mounted there already. */
async function bindOnTarget(handle: FileHandle, target: string): Promise<void> {
  const source = await handle.stat();
  if (await isMountPoint(target)) {
    const mounted = await stat(target);
    if (mounted.dev === source.dev && mounted.ino === source.ino) return;
    for (let stacked = 0; await isMountPoint(target); stacked++) {
      if (stacked === MaxStackedMounts) throw new Error(`${target} still has mounts after ${MaxStackedMounts} were removed`);
      await unmount(target);
    }
  }
  await mkdir(dirname(target), { recursive: true, mode: 0o750 });
  const present = await lstat(target).catch(() => undefined);
  // Only an empty directory or an empty file of ours: never anything a mount could reach into.
  if (present && present.isDirectory() !== source.isDirectory()) await (present.isDirectory() ? rmdir(target) : unlink(target));
  if (source.isDirectory()) await mkdir(target, { recursive: true, mode: 0o750 });
  else if (!present || present.isDirectory()) await writeFile(target, '', { mode: 0o640 });
  // The kernel follows /proc/<pid>/fd/<n> to the open file; mount(8) must not resolve it to a path first.
  await bindMount(`/proc/${process.pid}/fd/${handle.fd}`, target);
}
