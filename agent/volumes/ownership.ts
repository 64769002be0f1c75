/**
 * A volume's ownership for the pod's fsGroup (pkg/volume/volume_linux.go SetVolumeOwnership):
 * every file and directory gets the group (symlinks too, not followed), group read — and write,
 * for a volume containers may write — and directories group search and setgid, so that what is
 * made in them later inherits the group. Volumes are set up again at every sync: a writable one
 * (an emptyDir) is walked only while its root lacks the group or the bits, as fsGroupChangePolicy
 * OnRootMismatch checks, so a large emptyDir is not walked every minute; a read-only one (a
 * configMap, secret, downwardAPI or projected volume, whose files the atomic writer may have
 * just replaced) is small and walked each time.
 */
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const ReadWriteMask = 0o660;
const ReadOnlyMask = 0o440;
const SearchMask = 0o110;
const SetGid = 0o2000;

function wantedMode(mode: number, directory: boolean, readOnly: boolean): number {
  return mode | (readOnly ? ReadOnlyMask : ReadWriteMask) | (directory ? SearchMask | SetGid : 0);
}

export async function setVolumeOwnership(dir: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const root = await lstat(dir);
  const rootMode = root.mode & 0o7777;
  if (!readOnly && root.gid === fsGroup && rootMode === wantedMode(rootMode, true, false)) return;
  await walk(dir, fsGroup, readOnly);
}

async function walk(path: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const info = await lstat(path);
  await lchown(path, -1, fsGroup);
  if (info.isSymbolicLink()) return;
  const mode = info.mode & 0o7777;
  const wanted = wantedMode(mode, info.isDirectory(), readOnly);
  if (wanted !== mode) await chmod(path, wanted);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await walk(join(path, entry), fsGroup, readOnly);
}
