/**
 * What a file system and a directory use (pkg/volume/util/fs): the file system's size, free
 * space and inodes from statfs, and the bytes below a directory as du counts them.
 */
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface FsInfo {
  availableBytes: number;
  capacityBytes: number;
  usedBytes: number;
  inodesFree: number;
  inodes: number;
  inodesUsed: number;
}

/** statfs of the file system that holds `path` (fs.Info). */
export async function fsInfo(path: string): Promise<FsInfo> {
  const fs = await statfs(path);
  return {
    availableBytes: fs.bavail * fs.bsize,
    capacityBytes: fs.blocks * fs.bsize,
    usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
    inodesFree: fs.ffree,
    inodes: fs.files,
    inodesUsed: fs.files - fs.ffree,
  };
}

/**
 * Bytes of disk used below `path` as upstream's fs.DiskUsage counts them: allocated blocks,
 * symlinks not followed, a file with several hard links counted once, nothing on another
 * file system (a mount inside the volume) counted. Files that vanish meanwhile count nothing.
 */
export async function diskUsage(path: string): Promise<number> {
  const top = await lstat(path, { bigint: true }).catch(() => undefined);
  if (!top) return 0;
  const seen = new Set<bigint>();
  const walk = async (entry: string): Promise<number> => {
    const info = await lstat(entry, { bigint: true }).catch(() => undefined);
    if (!info || info.dev !== top.dev) return 0;
    if (info.nlink > 1n && !info.isDirectory()) {
      if (seen.has(info.ino)) return 0;
      seen.add(info.ino);
    }
    let total = Number(info.blocks) * 512;
    if (info.isDirectory()) {
      const names = await readdir(entry).catch(() => []);
      for (const name of names) total += await walk(join(entry, name));
    }
    return total;
  };
  return walk(path);
}
