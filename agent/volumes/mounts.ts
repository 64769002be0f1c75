/**
 * Host mounts the volume manager makes: tmpfs for memory-backed volumes (emptyDir with medium
 * Memory, secrets), as the kubelet mounts them on the pod's volume directory, and the bind
 * mounts of subPaths (subpath.ts) in the pod's volume-subpaths directory. Mounts outlive the
 * agent, so an agent that restarts finds them and mounts nothing twice; a pod's mounts are
 * unmounted, deepest first, before its directory is removed (removing files through a mount
 * point would empty the volume and still fail on the busy mount point).
 */
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { DockerletError } from '../../common/api/errors.js';
import { isWithin } from './root-dir.js';

const run = promisify(execFile);

/**
 * Mount points at or below `path`, from /proc/self/mountinfo (octal escapes decoded). The kernel
 * lists real paths, so `path` is compared after its symlinks are resolved (a root dir reached
 * through a link still finds its mounts), and the points are returned as the kernel lists them.
 */
export async function mountPointsUnder(path: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const real = await realpath(path).catch(() => resolve(path));
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => isWithin(real, point));
}

export async function isMountPoint(path: string): Promise<boolean> {
  const real = await realpath(path).catch(() => path);
  return (await mountPointsUnder(real)).includes(real);
}

/** Mounts a tmpfs on `dir` (an existing directory), unless one is there already; `sizeBytes` caps it, `gid` owns its root. */
export async function mountTmpfs(dir: string, options: { sizeBytes?: number; mode: number; gid?: number }): Promise<void> {
  if (await isMountPoint(dir)) return;
  const opts = [
    `mode=${options.mode.toString(8).padStart(4, '0')}`,
    ...(options.sizeBytes !== undefined ? [`size=${Math.ceil(options.sizeBytes)}`] : []),
    ...(options.gid !== undefined ? [`gid=${options.gid}`] : []),
  ];
  try {
    await run('mount', ['-t', 'tmpfs', '-o', opts.join(','), 'tmpfs', dir]);
  } catch (err) {
    throw new DockerletError('DKL_ERR_RUNTIME', `mounting a tmpfs on ${dir}: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`, { cause: err });
  }
}

/**
 * Binds `source` on `target` (an existing file or directory, to match), taking `source` as it is
 * written: a /proc/<pid>/fd/<n> source is followed by the kernel to the open file itself.
 */
export async function bindMount(source: string, target: string): Promise<void> {
  try {
    await run('mount', ['--no-canonicalize', '--bind', source, target]);
  } catch (err) {
    throw new DockerletError('DKL_ERR_RUNTIME', `bind-mounting ${source} on ${target}: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`, { cause: err });
  }
}

/** Unmounts `point`; one that is no longer mounted (unmounted meanwhile by someone else) is done. */
export async function unmount(point: string): Promise<void> {
  try {
    await run('umount', [point]);
  } catch (err) {
    if (!(await isMountPoint(point))) return;
    throw new DockerletError('DKL_ERR_RUNTIME', `unmounting ${point}: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`, { cause: err });
  }
}

/** Unmounts every mount point at or below `path`, deepest first. */
export async function unmountAll(path: string): Promise<void> {
  const points = (await mountPointsUnder(path)).sort((a, b) => b.length - a.length);
  for (const point of points) await unmount(point);
}
