/**
 * fsGroup ownership, as pkg/volume/volume_linux.go SetVolumeOwnership leaves a volume: the
 * group on every file and directory (symlinks too, not followed), group read — and write, for a
 * volume containers may write — and on directories group search and setgid, so that what is made
 * in them later inherits the group. The agent walks only what it has just made itself and no
 * container has seen yet: each new timestamped directory of the atomic writer before the ..data
 * swap; a new emptyDir (empty then) and a payload volume's root directory get it on themselves
 * alone. So no walk ever runs through files a container could have replaced with symlinks, and
 * nothing is walked again at every sync.
 */
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const ReadWriteMask = 0o660;
const ReadOnlyMask = 0o440;
const SearchMask = 0o110;
const SetGid = 0o2000;

/** The mode an fsGroup's ownership gives a file or directory of mode `mode`. */
export function fsGroupMode(mode: number, directory: boolean, readOnly: boolean): number {
  return mode | (readOnly ? ReadOnlyMask : ReadWriteMask) | (directory ? SearchMask | SetGid : 0);
}

/** The fsGroup's ownership on `path` alone. */
export async function setOwnership(path: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const info = await lstat(path);
  await lchown(path, -1, fsGroup);
  if (info.isSymbolicLink()) return;
  const mode = info.mode & 0o7777;
  const wanted = fsGroupMode(mode, info.isDirectory(), readOnly);
  if (wanted !== mode) await chmod(path, wanted);
}

/** The fsGroup's ownership on `dir` and everything below it: only for a tree the agent has just written. */
export async function setTreeOwnership(dir: string, fsGroup: number, readOnly: boolean): Promise<void> {
  await setOwnership(dir, fsGroup, readOnly);
  if (!(await lstat(dir)).isDirectory()) return;
  for (const entry of await readdir(dir)) await setTreeOwnership(join(dir, entry), fsGroup, readOnly);
}
