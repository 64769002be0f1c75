/**
 * Temp directories for tests that make real mounts, and their cleanup. The cleanup reads
 * /proc/self/mountinfo on its own (not through the code under test) and lazily unmounts, deepest
 * first, whatever is mounted below the directory before removing it, so a failing test leaves
 * neither a mount nor a directory behind.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  /** The file system's own options (after the "-"), e.g. ["rw", "size=1024k", "mode=777"]. */
  superOptions: string[];
}

const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/** Every mount of this process's namespace, in mountinfo order. */
export function mountTable(): MountEntry[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(' ');
      const dash = fields.indexOf('-');
      return { mountPoint: unescape(fields[4]!), fsType: fields[dash + 1]!, superOptions: fields[dash + 3]!.split(',') };
    });
}

/** The mounts at `path` exactly (several when stacked). */
export function mountsAt(path: string): MountEntry[] {
  return mountTable().filter((m) => m.mountPoint === path);
}

/** The mount points at or below `dir`. */
export function mountPointsBelow(dir: string): string[] {
  return mountTable()
    .map((m) => m.mountPoint)
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** A fresh directory under os.tmpdir(), as its real path (mountinfo lists real paths). */
export async function tempRoot(prefix: string): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

/** Unmounts everything at or below `dir` (deepest first, lazily) and removes it. */
export async function removeTempRoot(dir: string | undefined): Promise<void> {
  if (dir === undefined) return;
  for (const point of mountPointsBelow(dir).sort((a, b) => b.length - a.length)) {
    execFileSync('umount', ['-l', point]);
  }
  await rm(dir, { recursive: true, force: true });
}
