/**
 * Mounting the host's cgroup hierarchies again on a fresh /sys: a network namespace's own sysfs
 * (`ip netns exec`, or a node host's mount namespace) has no cgroup file systems, and an engine
 * or an agent there must see the cgroups the host sees (no cgroup namespace is made, so they
 * are the same hierarchies).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A shell command that mounts, on the fresh /sys of `ip netns exec`, the cgroup file systems the
 * host has under /sys/fs/cgroup (a tmpfs, each v1 hierarchy by its controllers, cgroup2) and its
 * symbolic links there (cpu -> cpu,cpuacct), read from this process's mount table. On a
 * cgroup-v2-only host, where /sys/fs/cgroup is itself the cgroup2 mount: cgroup2 there.
 */
export async function cgroupRemountScript(): Promise<string> {
  const mountinfo = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  // A cgroup-v2-only host: /sys/fs/cgroup itself is the cgroup2 mount, the one hierarchy.
  const unified = mountinfo.some((line) => {
    const [left, right] = line.split(' - ');
    return left?.split(' ')[4] === '/sys/fs/cgroup' && right?.split(' ')[0] === 'cgroup2';
  });
  if (unified) return 'mount -t cgroup2 cgroup2 /sys/fs/cgroup';
  const mounts = mountinfo.flatMap((line) => {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    const [left, right] = line.split(' - ');
    if (!left || !right) return [];
    const [, , , root, mountPoint] = left.split(' ');
    const [fsType, , superOptions] = right.split(' ');
    if (!mountPoint?.startsWith('/sys/fs/cgroup/') || (fsType !== 'cgroup' && fsType !== 'cgroup2')) return [];
    if (root !== '/') throw new Error(`the cgroup mount ${mountPoint} is not its hierarchy's root (${root}): a cgroup namespace is not handled`);
    const controllers = (superOptions ?? '').split(',').filter((option) => option !== 'rw' && option !== 'ro').join(',');
    return [{ mountPoint, fsType, controllers }];
  });
  if (mounts.length === 0) throw new Error('no cgroup file systems under /sys/fs/cgroup to mount again in the network namespace');
  const steps = ['mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup'];
  for (const { mountPoint, fsType, controllers } of mounts) {
    steps.push(`mkdir -p ${mountPoint}`, `mount -t ${fsType} ${controllers ? `-o ${controllers} ` : ''}${fsType} ${mountPoint}`);
  }
  for (const entry of await readdir('/sys/fs/cgroup', { withFileTypes: true })) {
    if (entry.isSymbolicLink()) steps.push(`ln -s ${await readlink(join('/sys/fs/cgroup', entry.name))} /sys/fs/cgroup/${entry.name}`);
  }
  return steps.join(' && ');
}
