/**
 * Plain directories that behave as the kernel's cgroup file systems do where the QoS cgroups
 * care: a new cgroup has an empty cgroup.procs (and, with v2, the controllers its parent offers
 * in cgroup.controllers and an empty cgroup.subtree_control); a controller goes into
 * cgroup.subtree_control with `+name` only when the cgroup has it; rmdir removes a cgroup with
 * its files, but refuses (EBUSY) one that has processes or children.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HostCgroupFs, type CgroupFs } from '../../../../agent/qos/cgroup-manager.js';

const errno = (code: string, path: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: ${path}`), { code });

/** A hierarchy's root at `path`: with v2, offering `controllers` to its children. */
export async function makeHierarchy(path: string, version: 1 | 2, controllers = ['cpuset', 'cpu', 'io', 'memory', 'pids']): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'cgroup.procs'), '');
  if (version === 2) {
    await writeFile(join(path, 'cgroup.controllers'), `${controllers.join(' ')}\n`);
    await writeFile(join(path, 'cgroup.subtree_control'), '');
  }
}

/** Puts a process in the cgroup at `path` (`pid`), or takes them all out (none). */
export async function setProcs(path: string, pid?: number): Promise<void> {
  await writeFile(join(path, 'cgroup.procs'), pid === undefined ? '' : `${pid}\n`);
}

export function fakeCgroupFs(version: 1 | 2): CgroupFs {
  const words = async (path: string): Promise<string[]> => (existsSync(path) ? (await readFile(path, 'utf8')).split(/\s+/).filter(Boolean) : []);
  return {
    async mkdir(path) {
      if (existsSync(path)) return;
      await this.mkdir(dirname(path));
      await mkdir(path);
      await writeFile(join(path, 'cgroup.procs'), '');
      if (version === 2) {
        await writeFile(join(path, 'cgroup.controllers'), (await words(join(dirname(path), 'cgroup.subtree_control'))).join(' '));
        await writeFile(join(path, 'cgroup.subtree_control'), '');
      }
    },
    readFile: HostCgroupFs.readFile,
    async writeFile(path, data) {
      if (basename(path) !== 'cgroup.subtree_control') return writeFile(path, data);
      const available = await words(join(dirname(path), 'cgroup.controllers'));
      const enabled = new Set(await words(path));
      for (const change of data.split(/\s+/).filter(Boolean)) {
        const name = change.slice(1);
        if (!available.includes(name)) throw errno('EINVAL', path);
        if (change.startsWith('+')) enabled.add(name);
        else enabled.delete(name);
      }
      return writeFile(path, [...enabled].join(' '));
    },
    subdirectories: HostCgroupFs.subdirectories,
    exists: HostCgroupFs.exists,
    async rmdir(path) {
      if (!existsSync(path)) throw errno('ENOENT', path);
      const children = (await readdir(path, { withFileTypes: true })).filter((entry) => entry.isDirectory());
      if (children.length > 0 || (await words(join(path, 'cgroup.procs'))).length > 0) throw errno('EBUSY', path);
      await rm(path, { recursive: true });
    },
  };
}
