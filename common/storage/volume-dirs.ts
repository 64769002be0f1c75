/**
 * The directories that hold provisioned volumes' data, on a lone host (the agent's own claims) and
 * in a cluster (the local provisioner's PVs): made writable by any container user (0777, as
 * kind's local-path provisioner makes them, since a claim says nothing of the user its pods run
 * as), and removed only when they are no symbolic link and lie strictly inside the directory they
 * were provisioned under, their parents' links resolved, so that a record or a PV pointing
 * elsewhere never removes anything else.
 */
import { chmod, lstat, mkdir, realpath, rm } from 'node:fs/promises';
import { sep } from 'node:path';

/** A provisioned volume's data directory: writable by any container user. */
export const VolumeDataMode = 0o777;

/** Makes `path` (and its parents) if missing; a new one gets mode 0777 whatever the umask. */
export async function makeVolumeDir(path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true, mode: VolumeDataMode });
  if (created !== undefined) await chmod(path, VolumeDataMode);
}

/**
 * Removes `path` and everything below it, when it lies strictly inside `base` once both are
 * resolved; a missing path is already removed. Throws, removing nothing, for a path outside.
 */
export async function removeVolumeDir(base: string, path: string): Promise<void> {
  // A link in the volume's place is not the volume: following it could remove another's data.
  if ((await lstat(path).catch(() => undefined))?.isSymbolicLink()) throw new Error(`refusing to remove ${path}: it is a symbolic link, not a volume's directory`);
  const realBase = await realpath(base).catch(() => undefined);
  const realPath = await realpath(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (realPath === undefined) return;
  if (realBase === undefined || !realPath.startsWith(realBase + sep) || realPath === realBase) {
    throw new Error(`refusing to remove ${path}: it is not inside ${base}, where volumes are provisioned`);
  }
  await rm(realPath, { recursive: true, force: true });
}
