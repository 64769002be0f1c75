import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { cgroupHierarchies, cgroupProcesses, CgroupManager, parseCgroupMounts, removeCgroups, type CgroupFs, type CgroupHierarchies } from '../../../../agent/qos/cgroup-manager.js';
import { QOSContainerManager } from '../../../../agent/qos/qos-container-manager.js';
import type { RuntimeCgroups } from '../../../../agent/runtime/runtime.js';
import type { Clock } from '../../../../common/util/clock.js';
import { memoryLogger, type MemoryLogger } from '../../../helpers/memory-logger.js';
import { ctr, pod } from '../../fixtures.js';
import { fakeCgroupFs, makeHierarchy, setProcs } from './fake-cgroup-fs.js';

const Mi = 2 ** 20;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A temp directory standing in for /sys/fs/cgroup: v1's cpu, memory and pids hierarchies, or v2's one. */
async function cgroupMount(version: 1 | 2): Promise<{ base: string; hierarchies: CgroupHierarchies }> {
  const base = await mkdtemp(join(tmpdir(), 'dockerlet-cgroups-'));
  dirs.push(base);
  if (version === 2) {
    await makeHierarchy(base, 2);
    return { base, hierarchies: { version, cpu: base, memory: base, all: [base] } };
  }
  for (const controller of ['cpu', 'memory', 'pids']) await makeHierarchy(join(base, controller), 1);
  return { base, hierarchies: { version, cpu: join(base, 'cpu'), memory: join(base, 'memory'), all: ['cpu', 'memory', 'pids'].map((c) => join(base, c)) } };
}

interface Setup {
  manager: QOSContainerManager;
  base: string;
  log: MemoryLogger;
  /** A cgroup file's value, `path` from the mount (v1: from the hierarchies' parent). */
  read(path: string): Promise<string>;
}

async function startManager(
  options: { version?: 1 | 2; driver?: RuntimeCgroups['driver']; fs?: CgroupFs; root?: string; nodeCpus?: number; lockRoot?: (root: string) => Promise<{ release(): Promise<void> }>; orphanScanPeriodMs?: number; clock?: Clock } = {},
): Promise<Setup> {
  const version = options.version ?? 1;
  const { base, hierarchies } = await cgroupMount(version);
  const log = memoryLogger();
  const manager = new QOSContainerManager({
    root: options.root ?? 'dockerlet',
    logger: log.logger,
    hierarchies: async () => ({ ok: true, hierarchies }),
    fs: options.fs ?? fakeCgroupFs(version),
    nodeCpus: options.nodeCpus ?? 2,
    lockRoot: options.lockRoot ?? (async () => ({ release: async () => undefined })),
    // Unless a test is about the period: the cgroups listed at each call.
    orphanScanPeriodMs: options.orphanScanPeriodMs ?? 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await manager.start({ driver: options.driver ?? 'cgroupfs', version });
  return { manager, base, log, read: async (path) => (await readFile(join(base, path), 'utf8')).trim() };
}

const guaranteed = (uid: string): DefaultedPod => pod({ containers: [ctr('main', { resources: { limits: { cpu: '500m', memory: '64Mi' } } })] }, { uid });
const burstable = (uid: string, cpu: string): DefaultedPod => pod({ containers: [ctr('main', { resources: { requests: { cpu } } })] }, { uid });
const bestEffort = (uid: string): DefaultedPod => pod({}, { uid });

describe('QOSContainerManager: cgroup v1, cgroupfs', () => {
  test('start: the root cgroup and its tiers, besteffort at the least shares', async () => {
    const { base, read } = await startManager();
    for (const hierarchy of ['cpu', 'memory']) {
      for (const tier of ['dockerlet', 'dockerlet/burstable', 'dockerlet/besteffort']) expect(existsSync(join(base, hierarchy, tier)), `${hierarchy}/${tier}`).toBe(true);
    }
    expect(await read('cpu/dockerlet/besteffort/cpu.shares')).toBe('2');
  });

  test('start: the root weighs the node\'s CPUs, as kubepods its allocatable', async () => {
    const { base, read } = await startManager({ nodeCpus: 4 });
    expect(await read('cpu/dockerlet/cpu.shares')).toBe('4096');
    expect(existsSync(join(base, 'memory/dockerlet/memory.limit_in_bytes'))).toBe(false);
  });

  test('a Guaranteed pod: its cgroup right under the root, with its shares, CFS quota and memory limit', async () => {
    const { manager, read } = await startManager();
    expect(await manager.ensureExists(guaranteed('g1'))).toBe('/dockerlet/podg1');
    expect(await read('cpu/dockerlet/podg1/cpu.shares')).toBe('512');
    expect(await read('cpu/dockerlet/podg1/cpu.cfs_period_us')).toBe('100000');
    expect(await read('cpu/dockerlet/podg1/cpu.cfs_quota_us')).toBe('50000');
    expect(await read('memory/dockerlet/podg1/memory.limit_in_bytes')).toBe(String(64 * Mi));
  });

  test('a BestEffort pod: under besteffort, with the least shares and no limits', async () => {
    const { manager, base, read } = await startManager();
    expect(await manager.ensureExists(bestEffort('b1'))).toBe('/dockerlet/besteffort/podb1');
    expect(await read('cpu/dockerlet/besteffort/podb1/cpu.shares')).toBe('2');
    expect(existsSync(join(base, 'cpu/dockerlet/besteffort/podb1/cpu.cfs_quota_us'))).toBe(false);
    expect(existsSync(join(base, 'memory/dockerlet/besteffort/podb1/memory.limit_in_bytes'))).toBe(false);
  });

  test('the burstable tier weighs every Burstable pod\'s requests together, as pods come, finish and go; besteffort stays at 2', async () => {
    const { manager, read } = await startManager();
    expect(await manager.ensureExists(burstable('b1', '250m'))).toBe('/dockerlet/burstable/podb1');
    expect(await read('cpu/dockerlet/burstable/cpu.shares')).toBe('256');
    expect(await read('cpu/dockerlet/burstable/podb1/cpu.shares')).toBe('256');
    await manager.ensureExists(burstable('b2', '500m'));
    await manager.ensureExists(guaranteed('g1'));
    expect(await read('cpu/dockerlet/burstable/cpu.shares')).toBe('768');
    await manager.release('b2');
    expect(await read('cpu/dockerlet/burstable/cpu.shares')).toBe('256');
    await manager.destroy('b1');
    expect(await read('cpu/dockerlet/burstable/cpu.shares')).toBe('2');
    expect(await read('cpu/dockerlet/besteffort/cpu.shares')).toBe('2');
  });

  test('a pod synced again whose cgroup is there is not written again', async () => {
    const { manager, base, read } = await startManager();
    await manager.ensureExists(burstable('b1', '250m'));
    await writeFile(join(base, 'cpu/dockerlet/burstable/podb1/cpu.shares'), '7');
    expect(await manager.ensureExists(burstable('b1', '250m'))).toBe('/dockerlet/burstable/podb1');
    expect(await read('cpu/dockerlet/burstable/podb1/cpu.shares')).toBe('7');
  });

  test('a pod synced again whose cgroup is gone gets it again, with its values, the root and tiers too', async () => {
    const { manager, base, read } = await startManager();
    await manager.ensureExists(burstable('b1', '250m'));
    for (const hierarchy of ['cpu', 'memory', 'pids']) await rm(join(base, hierarchy, 'dockerlet'), { recursive: true, force: true });
    expect(await manager.ensureExists(burstable('b1', '250m'))).toBe('/dockerlet/burstable/podb1');
    expect(await read('cpu/dockerlet/burstable/podb1/cpu.shares')).toBe('256');
    expect(await read('cpu/dockerlet/burstable/cpu.shares')).toBe('256');
    expect(await read('cpu/dockerlet/besteffort/cpu.shares')).toBe('2');
    expect(await read('cpu/dockerlet/cpu.shares')).toBe('2048');
  });

  test('housekeeping: pod cgroups an earlier agent left (any class, any hierarchy) go, unless known or kept; other directories stay', async () => {
    let now = 0;
    const { manager, base, log } = await startManager({ orphanScanPeriodMs: 60_000, clock: { now: () => now } });
    await manager.ensureExists(guaranteed('live'));
    for (const path of ['cpu/dockerlet/podold-1', 'cpu/dockerlet/burstable/podold-2/0123abcd', 'pids/dockerlet/besteffort/podold-3', 'cpu/dockerlet/besteffort/podkept', 'memory/dockerlet/podbusy', 'cpu/dockerlet/other', 'cpu/dockerlet/pod..x']) {
      await mkdir(join(base, path), { recursive: true });
    }
    await setProcs(join(base, 'memory/dockerlet/podbusy'), 99);
    await manager.cleanupOrphanedPodCgroups((uid) => uid === 'kept');
    for (const path of ['cpu/dockerlet/podold-1', 'cpu/dockerlet/burstable/podold-2', 'pids/dockerlet/besteffort/podold-3']) expect(existsSync(join(base, path)), path).toBe(false);
    for (const path of ['cpu/dockerlet/podlive', 'cpu/dockerlet/besteffort/podkept', 'memory/dockerlet/podbusy', 'cpu/dockerlet/other', 'cpu/dockerlet/pod..x', 'cpu/dockerlet/burstable']) {
      expect(existsSync(join(base, path)), path).toBe(true);
    }
    now += 2_000;
    await manager.cleanupOrphanedPodCgroups((uid) => uid === 'kept');
    expect(log.lines.filter((line) => line.msg.includes('cannot be removed yet'))).toHaveLength(1);
    // Within the period the cgroups are not listed again: only the one found busy is tried again.
    await setProcs(join(base, 'memory/dockerlet/podbusy'));
    await mkdir(join(base, 'cpu/dockerlet/podnew-orphan'), { recursive: true });
    now += 2_000;
    await manager.cleanupOrphanedPodCgroups();
    expect(existsSync(join(base, 'memory/dockerlet/podbusy'))).toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet/besteffort/podkept')), 'not listed within the period').toBe(true);
    expect(existsSync(join(base, 'cpu/dockerlet/podnew-orphan')), 'not listed within the period').toBe(true);
    now += 60_000;
    await manager.cleanupOrphanedPodCgroups();
    expect(existsSync(join(base, 'cpu/dockerlet/besteffort/podkept')), 'not kept any more').toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet/podnew-orphan'))).toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet/podlive')), 'known').toBe(true);
  });

  test('a pod uid that cannot name a cgroup: no cgroup parent, nothing made or removed, nothing thrown', async () => {
    const { manager, base } = await startManager();
    expect(await manager.ensureExists(guaranteed('../x'))).toBeUndefined();
    await manager.destroy('../../x');
    expect(existsSync(join(base, 'cpu/x'))).toBe(false);
  });

  test('destroy: the pod\'s cgroup goes from every hierarchy, with the empty container cgroups left in it', async () => {
    const { manager, base } = await startManager();
    await manager.ensureExists(burstable('b1', '250m'));
    // What runc makes for a container, in every hierarchy, and leaves when it does not get to remove it.
    for (const hierarchy of ['cpu', 'memory', 'pids']) await mkdir(join(base, hierarchy, 'dockerlet/burstable/podb1/0123abcd'), { recursive: true });
    await manager.destroy('b1');
    for (const hierarchy of ['cpu', 'memory', 'pids']) expect(existsSync(join(base, hierarchy, 'dockerlet/burstable/podb1')), hierarchy).toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet/burstable'))).toBe(true);
  });

  test('a pod not known to this agent (it finished before it started) is looked for under every class', async () => {
    const { manager, base } = await startManager();
    await mkdir(join(base, 'cpu/dockerlet/besteffort/podold'), { recursive: true });
    await manager.destroy('old');
    expect(existsSync(join(base, 'cpu/dockerlet/besteffort/podold'))).toBe(false);
  });

  test('a cgroup that still holds processes stays, with one warning, and housekeeping removes it once they are gone', async () => {
    const { manager, base, log } = await startManager();
    await manager.ensureExists(bestEffort('b1'));
    const podDir = join(base, 'memory/dockerlet/besteffort/podb1');
    await setProcs(podDir, 4242);
    await manager.destroy('b1');
    expect(existsSync(podDir)).toBe(true);
    expect(existsSync(join(base, 'cpu/dockerlet/besteffort/podb1')), 'the hierarchies without processes').toBe(false);
    await manager.cleanupOrphanedPodCgroups();
    expect(log.lines.filter((line) => line.msg.includes('cannot be removed yet'))).toHaveLength(1);
    await setProcs(podDir);
    await manager.cleanupOrphanedPodCgroups();
    expect(existsSync(podDir)).toBe(false);
    expect(log.lines.some((line) => line.msg === 'removed the cgroup of a pod that is gone')).toBe(true);
  });

  test('a pod made again after it was destroyed (its manifest put back) gets its cgroup again', async () => {
    const { manager, base } = await startManager();
    await manager.ensureExists(guaranteed('g1'));
    await manager.destroy('g1');
    expect(await manager.ensureExists(guaranteed('g1'))).toBe('/dockerlet/podg1');
    expect(existsSync(join(base, 'cpu/dockerlet/podg1/cpu.shares'))).toBe(true);
  });

  test('a root of its own: a test node\'s pods and tiers under it, nothing under dockerlet', async () => {
    const { manager, base } = await startManager({ root: 'dockerlet-node-1' });
    expect(await manager.ensureExists(bestEffort('b1'))).toBe('/dockerlet-node-1/besteffort/podb1');
    expect(existsSync(join(base, 'cpu/dockerlet'))).toBe(false);
  });

  test('a root that is not one cgroup name is refused', () => {
    expect(() => new QOSContainerManager({ root: '../x', logger: memoryLogger().logger })).toThrow(/podsCgroup: invalid value "..\/x"/);
    expect(() => new QOSContainerManager({ root: '', logger: memoryLogger().logger })).toThrow(/podsCgroup/);
  });
});

describe('QOSContainerManager: where cgroups cannot be written', () => {
  const readOnly: CgroupFs = {
    ...fakeCgroupFs(1),
    mkdir: async (path) => {
      throw Object.assign(new Error(`EROFS: read-only file system, mkdir '${path}'`), { code: 'EROFS' });
    },
  };

  test('a read-only /sys/fs/cgroup: one warning at start, then every pod gets no cgroup parent, and nothing fails', async () => {
    const { manager, log } = await startManager({ fs: readOnly });
    expect(await manager.ensureExists(guaranteed('g1'))).toBeUndefined();
    await manager.sandboxCreated(guaranteed('g1'));
    await manager.release('g1');
    await manager.destroy('g1');
    await manager.cleanupOrphanedPodCgroups();
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/not grouped under dockerlet's QoS cgroups/);
    expect(String(warnings[0]?.['reason'])).toMatch(/EROFS.*read-only/);
  });

  test('a root another agent manages: one warning naming it, no cgroups made, no orphans scanned', async () => {
    const { manager, log, base } = await startManager({
      lockRoot: async (root) => {
        throw new Error(`another dockerlet agent (pid 4242) manages the QoS cgroups under ${root}`);
      },
    });
    expect(await manager.ensureExists(guaranteed('g1'))).toBeUndefined();
    await manager.cleanupOrphanedPodCgroups();
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings.map((w) => w['reason'])).toEqual(['another dockerlet agent (pid 4242) manages the QoS cgroups under dockerlet']);
    await expect(readFile(join(base, 'cpu/dockerlet/cpu.shares'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  test('an engine without cgroups of its own (driver none): the same', async () => {
    const log = memoryLogger();
    const manager = new QOSContainerManager({ root: 'dockerlet', logger: log.logger });
    await manager.start(undefined);
    expect(await manager.ensureExists(guaranteed('g1'))).toBeUndefined();
    expect(log.lines.filter((line) => line.level === 40)).toHaveLength(1);
  });

  test('one pod whose cgroup cannot be made runs without one, logged; the others still get theirs', async () => {
    const fs = fakeCgroupFs(1);
    const failing: CgroupFs = {
      ...fs,
      writeFile: async (path, data) => {
        if (path.includes('podbad')) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        return fs.writeFile(path, data);
      },
    };
    const { manager, log } = await startManager({ fs: failing });
    expect(await manager.ensureExists(guaranteed('bad'))).toBeUndefined();
    expect(await manager.ensureExists(guaranteed('bad')), 'tried again at each sync, still failing').toBeUndefined();
    expect(await manager.ensureExists(guaranteed('good'))).toBe('/dockerlet/podgood');
    expect(log.lines.filter((line) => line.msg.startsWith("could not make the pod's cgroup")), 'logged once').toHaveLength(1);
  });

  test('a pod whose cgroup could not be made gets it at a later sync, once it can be', async () => {
    const fs = fakeCgroupFs(1);
    let broken = true;
    const flaky: CgroupFs = {
      ...fs,
      writeFile: async (path, data) => {
        if (broken && path.includes('podg1')) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        return fs.writeFile(path, data);
      },
    };
    const { manager, read } = await startManager({ fs: flaky });
    expect(await manager.ensureExists(guaranteed('g1'))).toBeUndefined();
    broken = false;
    expect(await manager.ensureExists(guaranteed('g1'))).toBe('/dockerlet/podg1');
    expect(await read('cpu/dockerlet/podg1/cpu.shares')).toBe('512');
  });
});

describe('QOSContainerManager: systemd', () => {
  test('the slices nest as systemd names them, and the pod\'s cgroup parent is its slice\'s path', async () => {
    const { manager, base, read } = await startManager({ driver: 'systemd' });
    const parent = await manager.ensureExists(burstable('1f2e-33', '100m'));
    expect(parent).toBe('/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-pod1f2e_33.slice');
    expect(await read(`cpu${parent}/cpu.shares`)).toBe('102');
    expect(await read('cpu/dockerlet.slice/dockerlet-burstable.slice/cpu.shares')).toBe('102');
    expect(await read('cpu/dockerlet.slice/dockerlet-besteffort.slice/cpu.shares')).toBe('2');
    // systemd put its default in when it took the slice over for the sandbox's scope.
    await writeFile(join(base, 'cpu/dockerlet.slice/dockerlet-burstable.slice/cpu.shares'), '1024');
    await writeFile(join(base, `cpu${parent}/cpu.shares`), '1024');
    await manager.sandboxCreated(burstable('1f2e-33', '100m'));
    expect(await read('cpu/dockerlet.slice/dockerlet-burstable.slice/cpu.shares')).toBe('102');
    expect(await read(`cpu${parent}/cpu.shares`)).toBe('102');
  });

  test('housekeeping finds pod slices by their systemd names, dashes of the uid as underscores', async () => {
    const { manager, base } = await startManager({ driver: 'systemd' });
    const old = 'cpu/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-podaa_bb.slice';
    const kept = 'cpu/dockerlet.slice/dockerlet-podcc_dd.slice';
    for (const path of [old, kept]) await mkdir(join(base, path), { recursive: true });
    await manager.cleanupOrphanedPodCgroups((uid) => uid === 'cc-dd');
    expect(existsSync(join(base, old))).toBe(false);
    expect(existsSync(join(base, kept))).toBe(true);
    expect(existsSync(join(base, 'cpu/dockerlet.slice/dockerlet-burstable.slice'))).toBe(true);
  });
});

describe('QOSContainerManager: cgroup v2', () => {
  test('cpu.weight for shares, cpu.max for the quota, memory.max; each level offers its controllers to the next', async () => {
    const { manager, read } = await startManager({ version: 2 });
    expect((await read('cgroup.subtree_control')).split(' ')).toEqual(expect.arrayContaining(['cpu', 'memory']));
    expect((await read('dockerlet/cgroup.subtree_control')).split(' ')).toEqual(expect.arrayContaining(['cpu', 'memory']));
    expect(await read('dockerlet/besteffort/cpu.weight')).toBe('1');
    expect(await manager.ensureExists(guaranteed('g1'))).toBe('/dockerlet/podg1');
    expect(await read('dockerlet/podg1/cpu.weight')).toBe('20');
    expect(await read('dockerlet/podg1/cpu.max')).toBe('50000 100000');
    expect(await read('dockerlet/podg1/memory.max')).toBe(String(64 * Mi));
    await manager.ensureExists(burstable('b1', '1'));
    expect(await read('dockerlet/burstable/cpu.weight')).toBe('39');
    expect((await read('dockerlet/burstable/cgroup.subtree_control')).split(' ')).toEqual(expect.arrayContaining(['cpu', 'memory']));
  });

  test('a hierarchy without the memory controller is no place for pods: a warning, and no cgroups', async () => {
    const base = await mkdtemp(join(tmpdir(), 'dockerlet-cgroups-'));
    dirs.push(base);
    await makeHierarchy(base, 2, ['cpu', 'pids']);
    const log = memoryLogger();
    const manager = new QOSContainerManager({
      root: 'dockerlet',
      logger: log.logger,
      hierarchies: async () => ({ ok: true, hierarchies: { version: 2, cpu: base, memory: base, all: [base] } }),
      fs: fakeCgroupFs(2),
      // Not the host's lock: an agent running on this machine holds it.
      lockRoot: async () => ({ release: async () => undefined }),
    });
    await manager.start({ driver: 'cgroupfs', version: 2 });
    expect(await manager.ensureExists(guaranteed('g1'))).toBeUndefined();
    expect(String(log.lines.find((line) => line.level === 40)?.['reason'])).toMatch(/has no memory controller/);
  });
});

describe('cgroup mounts', () => {
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
    '90 80 0:32 /docker/abc /mnt/other\\040memory rw - cgroup cgroup rw,memory',
    '50 23 0:40 / /proc rw - proc proc rw',
  ].join('\n');

  test('mountinfo: each cgroup file system, its controllers and the cgroup at its root', () => {
    const mounts = parseCgroupMounts(mountinfo);
    expect(mounts.map((mount) => [mount.mountPoint, mount.type, mount.controllers.join(','), mount.root])).toEqual([
      ['/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'cpu,cpuacct', '/'],
      ['/sys/fs/cgroup/memory', 'cgroup', 'memory', '/'],
      ['/sys/fs/cgroup/pids', 'cgroup', 'pids', '/'],
      ['/sys/fs/cgroup/systemd', 'cgroup', 'xattr,name=systemd', '/'],
      ['/sys/fs/cgroup/unified', 'cgroup2', '', '/'],
      ['/mnt/other memory', 'cgroup', 'memory', '/docker/abc'],
    ]);
  });

  test('v1: cpu and memory where they are mounted from their roots; every hierarchy to remove from, the hybrid v2 one included', () => {
    expect(cgroupHierarchies(parseCgroupMounts(mountinfo), 1)).toEqual({
      ok: true,
      hierarchies: {
        version: 1,
        cpu: '/sys/fs/cgroup/cpu,cpuacct',
        memory: '/sys/fs/cgroup/memory',
        all: ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'],
      },
    });
  });

  test('v2: the unified hierarchy; none mounted is a reason, not an error', () => {
    expect(cgroupHierarchies(parseCgroupMounts('29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), 2)).toEqual({
      ok: true,
      hierarchies: { version: 2, cpu: '/sys/fs/cgroup', memory: '/sys/fs/cgroup', all: ['/sys/fs/cgroup'] },
    });
    expect(cgroupHierarchies(parseCgroupMounts(mountinfo.split('\n').slice(0, 4).join('\n')), 2)).toEqual({ ok: false, reason: 'no cgroup2 file system is mounted from its root here' });
  });

  test('a controller mounted only from below its root (as in some containers) cannot be used', () => {
    const only = parseCgroupMounts(mountinfo).filter((mount) => mount.mountPoint !== '/sys/fs/cgroup/memory');
    expect(cgroupHierarchies(only, 1)).toEqual({ ok: false, reason: 'no cgroup v1 hierarchy of the memory controller is mounted from its root here' });
  });
});

describe('removeCgroups (a node\'s teardown)', () => {
  test('the whole tree, in both drivers\' spellings and every hierarchy, what holds processes left and named', async () => {
    const { base, hierarchies } = await cgroupMount(1);
    const fs = fakeCgroupFs(1);
    const cgroupfs = new CgroupManager(hierarchies, 'cgroupfs', fs);
    const systemd = new CgroupManager(hierarchies, 'systemd', fs);
    await cgroupfs.ensure(['dockerlet-n1', 'besteffort', 'poda'], { cpuShares: 2 });
    await cgroupfs.ensure(['dockerlet-n1', 'burstable', 'podb']);
    await systemd.ensure(['dockerlet-n1', 'besteffort', 'podc']);
    await cgroupfs.ensure(['dockerlet-n2', 'podd']);
    await setProcs(join(base, 'memory/dockerlet-n1/burstable/podb'), 7);
    const mountinfoPath = join(base, 'mountinfo');
    await writeFile(mountinfoPath, hierarchies.all.map((path, index) => `${30 + index} 23 0:${index} / ${path} rw - cgroup cgroup rw,${index}`).join('\n'));

    const left = await removeCgroups([['dockerlet-n1']], { fs, mountinfoPath });
    expect(left.map((cgroup) => cgroup.path.slice(base.length))).toEqual(['/memory/dockerlet-n1/burstable/podb']);
    expect(existsSync(join(base, 'cpu/dockerlet-n1'))).toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet_n1.slice'))).toBe(false);
    expect(existsSync(join(base, 'memory/dockerlet-n1/besteffort'))).toBe(false);
    expect(existsSync(join(base, 'cpu/dockerlet-n2/podd')), 'another node\'s').toBe(true);
  });

  test("the processes under a cgroup, in both drivers' spellings and every hierarchy, each once; another's are not listed", async () => {
    const { base, hierarchies } = await cgroupMount(1);
    const fs = fakeCgroupFs(1);
    await new CgroupManager(hierarchies, 'cgroupfs', fs).ensure(['dockerlet-n1', 'burstable', 'podb']);
    await new CgroupManager(hierarchies, 'systemd', fs).ensure(['dockerlet-n1', 'besteffort', 'podc']);
    await new CgroupManager(hierarchies, 'cgroupfs', fs).ensure(['dockerlet-n2', 'podd']);
    await setProcs(join(base, 'memory/dockerlet-n1/burstable/podb'), 7);
    await setProcs(join(base, 'cpu/dockerlet-n1/burstable/podb'), 7);
    await setProcs(join(base, 'memory/dockerlet_n1.slice/dockerlet_n1-besteffort.slice/dockerlet_n1-besteffort-podc.slice'), 8);
    await setProcs(join(base, 'memory/dockerlet-n2/podd'), 9);
    const mountinfoPath = join(base, 'mountinfo');
    await writeFile(mountinfoPath, hierarchies.all.map((path, index) => `${30 + index} 23 0:${index} / ${path} rw - cgroup cgroup rw,${index}`).join('\n'));
    expect((await cgroupProcesses([['dockerlet-n1']], mountinfoPath)).sort()).toEqual([7, 8]);
  });

  test('never a path: empty, . or .. components, or ones with a slash, are refused', async () => {
    const { base, hierarchies } = await cgroupMount(1);
    await writeFile(join(base, 'mountinfo'), hierarchies.all.map((path, index) => `${30 + index} 23 0:${index} / ${path} rw - cgroup cgroup rw,${index}`).join('\n'));
    for (const name of [['..'], ['.'], [''], ['a/b'], ['dockerlet', '..']]) {
      await expect(removeCgroups([name], { fs: fakeCgroupFs(1), mountinfoPath: join(base, 'mountinfo') })).rejects.toThrow(/invalid cgroup name component/);
      await expect(new CgroupManager(hierarchies, 'cgroupfs', fakeCgroupFs(1)).destroy(name)).rejects.toThrow(/invalid cgroup name component/);
    }
  });

  test('never the root of a hierarchy', async () => {
    const { hierarchies } = await cgroupMount(1);
    await expect(new CgroupManager(hierarchies, 'cgroupfs', fakeCgroupFs(1)).destroy([])).rejects.toThrow(/refusing to remove the root cgroup/);
  });
});
