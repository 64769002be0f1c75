/**
 * Cgroups on the host's cgroup file system, by name (the kubelet's CgroupManager,
 * cgroup_manager_linux.go, laid out as runc's fs and fs2 managers lay them out): made with their
 * values, and removed.
 *
 * cgroup v1 has a hierarchy per controller: a cgroup's cpu.shares and CFS quota go in the cpu
 * controller's, its memory limit in the memory controller's, and it is removed from every
 * hierarchy mounted (runc makes a container's ancestors in each). cgroup v2 has one hierarchy,
 * with cpu.weight, cpu.max and memory.max, in which a cgroup's children get a controller only
 * once it is in the cgroup's cgroup.subtree_control: each ancestor offers its controllers to the
 * next, as runc does for a container's.
 *
 * Where the hierarchies are comes from /proc/self/mountinfo (discoverCgroupHierarchies); tests
 * hand in temp directories and a CgroupFs that removes them as the kernel removes cgroups.
 */
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import type { CgroupDriver } from '../runtime/runtime.js';
import { cgroupPath, QuotaPeriodUs, sharesToWeight, type CgroupName, type ResourceConfig } from './qos-cgroups.js';

export interface CgroupHierarchies {
  version: 1 | 2;
  /** Where cpu values go, and memory values: with v1, those two controllers' hierarchies; with v2, the one hierarchy for both. */
  cpu: string;
  memory: string;
  /** Every cgroup hierarchy mounted (with v1, one per controller, and a v2 one beside them on a hybrid host): a cgroup is removed from each. */
  all: readonly string[];
}

/** The file operations on cgroups: node:fs on the host; a test's stand-in on plain directories. */
export interface CgroupFs {
  /** Makes the directory and its missing ancestors. */
  mkdir(path: string): Promise<void>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  /** The names of the directories in `path`: a cgroup's children. */
  subdirectories(path: string): Promise<string[]>;
  rmdir(path: string): Promise<void>;
  /** Whether the directory is there. */
  exists(path: string): Promise<boolean>;
}

const errorCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

export const HostCgroupFs: CgroupFs = {
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, data) => writeFile(path, data),
  subdirectories: async (path) => (await readdir(path, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name),
  rmdir: (path) => rmdir(path),
  exists: async (path) => {
    try {
      return (await stat(path)).isDirectory();
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    }
  },
};

/** A cgroup that could not be removed, and why (EBUSY: processes, or a child that has them). */
export interface CgroupLeft {
  path: string;
  reason: string;
}

/** The controllers the values written here need in v2: without them, the files are not there. */
const NeededControllers = ['cpu', 'memory'];

export class CgroupManager {
  readonly hierarchies: CgroupHierarchies;
  readonly driver: CgroupDriver;
  readonly #fs: CgroupFs;

  constructor(hierarchies: CgroupHierarchies, driver: CgroupDriver, fs: CgroupFs = HostCgroupFs) {
    this.hierarchies = hierarchies;
    this.driver = driver;
    this.#fs = fs;
  }

  /** The cgroup's path from a hierarchy's root, as the driver names it: what a sandbox's cgroup parent is. */
  path(name: CgroupName): string {
    return cgroupPath(name, this.driver);
  }

  /** Makes the cgroup where its values go (its missing ancestors too) and writes `config` to it: Create and Update alike. */
  async ensure(name: CgroupName, config: ResourceConfig = {}): Promise<void> {
    const path = this.path(name);
    if (this.hierarchies.version === 2) {
      const dir = await this.#makeUnified(path);
      if (config.cpuShares !== undefined) await this.#write(dir, 'cpu.weight', sharesToWeight(config.cpuShares));
      if (config.cpuQuotaUs !== undefined) await this.#write(dir, 'cpu.max', `${config.cpuQuotaUs > 0 ? config.cpuQuotaUs : 'max'} ${config.cpuPeriodUs ?? QuotaPeriodUs}`);
      if (config.memoryLimitBytes !== undefined) await this.#write(dir, 'memory.max', config.memoryLimitBytes);
      return;
    }
    const cpu = join(this.hierarchies.cpu, path);
    const memory = join(this.hierarchies.memory, path);
    await this.#fs.mkdir(cpu);
    await this.#fs.mkdir(memory);
    if (config.cpuShares !== undefined) await this.#write(cpu, 'cpu.shares', config.cpuShares);
    if (config.cpuQuotaUs !== undefined) {
      // The period first: the kernel checks a quota against the period already there.
      await this.#write(cpu, 'cpu.cfs_period_us', config.cpuPeriodUs ?? QuotaPeriodUs);
      await this.#write(cpu, 'cpu.cfs_quota_us', config.cpuQuotaUs > 0 ? config.cpuQuotaUs : -1);
    }
    if (config.memoryLimitBytes !== undefined) await this.#write(memory, 'memory.limit_in_bytes', config.memoryLimitBytes);
  }

  /**
   * Removes the cgroup from every hierarchy, with the empty cgroups left below it (a container's
   * that runc did not get to remove), deepest first. A cgroup that still holds processes stays:
   * the ones left are returned, with why. One that is gone already counts as removed.
   */
  async destroy(name: CgroupName): Promise<CgroupLeft[]> {
    return destroyCgroup(this.#fs, this.hierarchies.all, this.driver, name);
  }

  /** Whether the cgroup is there, where its cpu values go: one stat. */
  async exists(name: CgroupName): Promise<boolean> {
    return this.#fs.exists(join(this.hierarchies.cpu, this.path(name)));
  }

  /** The names of the cgroup's children in any hierarchy (a pod's cgroup may be left in one only); none where it is not. */
  async children(name: CgroupName): Promise<string[]> {
    const path = this.path(name);
    const found = new Set<string>();
    for (const mount of this.hierarchies.all) {
      try {
        for (const child of await this.#fs.subdirectories(join(mount, path))) found.add(child);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }
    return [...found];
  }

  /** The unified hierarchy's directory for `path`, made level by level, each level offering its controllers to the next. */
  async #makeUnified(path: string): Promise<string> {
    let dir = this.hierarchies.cpu;
    for (const segment of path.split('/').filter(Boolean)) {
      await this.#offerControllers(dir);
      dir = join(dir, segment);
      await this.#fs.mkdir(dir);
    }
    return dir;
  }

  /** Puts every controller `dir` has into its cgroup.subtree_control, so that its children have them; cpu and memory must go in. */
  async #offerControllers(dir: string): Promise<void> {
    const words = async (file: string): Promise<string[]> => (await this.#fs.readFile(join(dir, file))).split(/\s+/).filter(Boolean);
    const available = await words('cgroup.controllers');
    const enabled = new Set(await words('cgroup.subtree_control'));
    for (const controller of NeededControllers) {
      if (!available.includes(controller)) throw new DockerletError('DKL_ERR_RUNTIME', `${join(dir, 'cgroup.controllers')} has no ${controller} controller`);
    }
    for (const controller of available.filter((c) => !enabled.has(c))) {
      try {
        await this.#fs.writeFile(join(dir, 'cgroup.subtree_control'), `+${controller}`);
      } catch (err) {
        // Those runc would want too but the values here do not need: it enables them itself, or goes without.
        if (NeededControllers.includes(controller)) throw new DockerletError('DKL_ERR_RUNTIME', `enabling the ${controller} controller in ${join(dir, 'cgroup.subtree_control')}: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  async #write(dir: string, file: string, value: string | number): Promise<void> {
    try {
      await this.#fs.writeFile(join(dir, file), String(value));
    } catch (err) {
      throw new DockerletError('DKL_ERR_RUNTIME', `writing ${value} to ${join(dir, file)}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

/**
 * Removes the cgroup `name`, as `driver` spells it, from each of `mounts`, with the empty cgroups
 * left below it (a container's that runc did not get to remove), deepest first. A cgroup that
 * still holds processes stays: the ones left are returned, with why. One that is gone already
 * counts as removed.
 */
async function destroyCgroup(fs: CgroupFs, mounts: readonly string[], driver: CgroupDriver, name: CgroupName): Promise<CgroupLeft[]> {
  if (name.length === 0) throw new DockerletError('DKL_ERR_BAD_REQUEST', 'refusing to remove the root cgroup of every hierarchy: name a cgroup below it');
  const path = cgroupPath(name, driver);
  const left: CgroupLeft[] = [];
  for (const mount of mounts) await removeTree(fs, join(mount, path), left);
  return left;
}

/** Whether `dir` is gone once this returns. */
async function removeTree(fs: CgroupFs, dir: string, left: CgroupLeft[]): Promise<boolean> {
  let children: string[];
  try {
    children = await fs.subdirectories(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true;
    left.push({ path: dir, reason: errorMessage(err) });
    return false;
  }
  let childrenGone = true;
  for (const child of children) childrenGone = (await removeTree(fs, join(dir, child), left)) && childrenGone;
  if (!childrenGone) return false;
  try {
    await fs.rmdir(dir);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true;
    left.push({ path: dir, reason: errorCode(err) === 'EBUSY' ? 'processes still in it' : errorMessage(err) });
    return false;
  }
}

/** A cgroup file system mounted here: where, its type, the controllers of a v1 one, and the cgroup it shows at its root. */
export interface CgroupMount {
  mountPoint: string;
  type: 'cgroup' | 'cgroup2';
  controllers: string[];
  root: string;
}

/** `\040` and its kind, as mountinfo escapes spaces and the like in paths. */
const unescapeMountPath = (path: string): string => path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** The cgroup file systems in a /proc/<pid>/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const type = fields[separator + 1];
    if (separator < 0 || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    const superOptions = (fields[separator + 3] ?? '').split(',');
    mounts.push({
      mountPoint: unescapeMountPath(fields[4] ?? ''),
      type,
      controllers: type === 'cgroup' ? superOptions.filter((option) => option !== 'rw' && option !== 'ro' && (!option.includes('=') || option.startsWith('name='))) : [],
      root: unescapeMountPath(fields[3] ?? ''),
    });
  }
  return mounts;
}

/**
 * The hierarchies of cgroup `version` in `mounts`: only those that show a hierarchy from its
 * root can be, since the runtime names cgroups from there; where a controller is mounted more
 * than once, the shortest mount point (as the kubelet picks it).
 */
export function cgroupHierarchies(mounts: readonly CgroupMount[], version: 1 | 2): { ok: true; hierarchies: CgroupHierarchies } | { ok: false; reason: string } {
  const whole = mounts.filter((mount) => mount.root === '/');
  const shortest = (candidates: CgroupMount[]): string | undefined => candidates.map((mount) => mount.mountPoint).sort((a, b) => a.length - b.length)[0];
  const all = [...new Set(whole.map((mount) => mount.mountPoint))];
  if (version === 2) {
    const unified = shortest(whole.filter((mount) => mount.type === 'cgroup2'));
    if (!unified) return { ok: false, reason: 'no cgroup2 file system is mounted from its root here' };
    return { ok: true, hierarchies: { version, cpu: unified, memory: unified, all: [unified] } };
  }
  const of = (controller: string): string | undefined => shortest(whole.filter((mount) => mount.type === 'cgroup' && mount.controllers.includes(controller)));
  const cpu = of('cpu');
  const memory = of('memory');
  if (!cpu || !memory) return { ok: false, reason: `no cgroup v1 hierarchy of the ${cpu ? 'memory' : 'cpu'} controller is mounted from its root here` };
  return { ok: true, hierarchies: { version, cpu, memory, all } };
}

/** The host's hierarchies of cgroup `version`, from this process's mountinfo. */
export async function discoverCgroupHierarchies(version: 1 | 2, mountinfoPath = '/proc/self/mountinfo'): Promise<{ ok: true; hierarchies: CgroupHierarchies } | { ok: false; reason: string }> {
  let mountinfo: string;
  try {
    mountinfo = await readFile(mountinfoPath, 'utf8');
  } catch (err) {
    return { ok: false, reason: `reading ${mountinfoPath}: ${errorMessage(err)}` };
  }
  return cgroupHierarchies(parseCgroupMounts(mountinfo), version);
}

/** Where every cgroup hierarchy mounted here has its root: where a cgroup is looked for by name. */
async function hierarchyRoots(mountinfoPath = '/proc/self/mountinfo'): Promise<string[]> {
  const mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8'));
  return [...new Set(mounts.filter((mount) => mount.root === '/').map((mount) => mount.mountPoint))];
}

/**
 * The processes in cgroups by name and below them, in both drivers' spellings, in every cgroup
 * hierarchy mounted here (each lists them all; a process is given once), for ending what a
 * node's pods left before their cgroups are removed.
 */
export async function cgroupProcesses(names: readonly CgroupName[], mountinfoPath?: string): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.length === 0) return;
    for (const pid of (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').map(Number)) if (pid > 0) pids.add(pid);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
  };
  for (const root of await hierarchyRoots(mountinfoPath)) {
    for (const driver of ['cgroupfs', 'systemd'] as const) for (const name of names) await walk(join(root, cgroupPath(name, driver)));
  }
  return [...pids];
}

/**
 * Removes cgroups by name, in both drivers' spellings, from every cgroup hierarchy mounted
 * here, for when whoever made them is gone (a test node's teardown): the cgroups left, because
 * processes are still in them, are returned.
 */
export async function removeCgroups(names: readonly CgroupName[], options: { fs?: CgroupFs; mountinfoPath?: string } = {}): Promise<CgroupLeft[]> {
  const all = await hierarchyRoots(options.mountinfoPath);
  const left: CgroupLeft[] = [];
  for (const driver of ['cgroupfs', 'systemd'] as const) {
    for (const name of names) left.push(...(await destroyCgroup(options.fs ?? HostCgroupFs, all, driver, name)));
  }
  return left;
}
