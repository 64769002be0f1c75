/**
 * The node's own figures for the Summary API, read where cAdvisor reads the root cgroup's
 * equivalents: CPU time from /proc/stat (all but idle, iowait and steal — time the hypervisor
 * gave others —, USER_HZ = 100), memory from /proc/meminfo (usage = total - free, working set =
 * usage - inactive file pages as cAdvisor defines it, available = total - working set as the
 * kubelet computes it) and /proc/vmstat (page faults), the root dir's file system from statfs,
 * and the process limits (the lower of pid_max and threads-max) and count from /proc/loadavg.
 */
import { readFile } from 'node:fs/promises';
import { meminfoBytes } from '../node/node-observation.js';
import { fsInfo } from '../../common/util/fs-usage.js';
import type { CpuSample, FsStats, MemoryStats } from './summary.js';

const NanosPerTick = 1e7;

/** CPU time used since boot, in ns, from /proc/stat's "cpu" line. */
export function cpuUsageNanoSeconds(procStat: string): number {
  const fields = (/^cpu\s+(.*)$/m.exec(procStat)?.[1] ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  return (user + nice + system + irq + softirq) * NanosPerTick;
}

/** The boot time from /proc/stat's btime, ms. */
export function bootTime(procStat: string): number {
  return Number(/^btime\s+(\d+)$/m.exec(procStat)?.[1] ?? 0) * 1000;
}

export function nodeMemory(meminfo: string, vmstat: string): MemoryStats {
  const value = (field: string): number => meminfoBytes(meminfo, field) ?? 0;
  const counter = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(vmstat)?.[1] ?? 0);
  const usageBytes = value('MemTotal') - value('MemFree');
  const workingSetBytes = Math.max(0, usageBytes - value('Inactive(file)'));
  return {
    availableBytes: value('MemTotal') - workingSetBytes,
    usageBytes,
    workingSetBytes,
    rssBytes: value('AnonPages'),
    pageFaults: counter('pgfault'),
    majorPageFaults: counter('pgmajfault'),
  };
}

export interface NodeReading {
  startTime: number;
  cpu: CpuSample;
  memory: MemoryStats;
  fs: FsStats;
  rlimit: { maxpid: number; curproc: number };
}

export async function readNodeStats(rootDir: string, now: number): Promise<NodeReading> {
  const [procStat, meminfo, vmstat, pidMax, threadsMax, loadavg, fs] = await Promise.all([
    readFile('/proc/stat', 'utf8'),
    readFile('/proc/meminfo', 'utf8'),
    readFile('/proc/vmstat', 'utf8'),
    readFile('/proc/sys/kernel/pid_max', 'utf8'),
    readFile('/proc/sys/kernel/threads-max', 'utf8'),
    readFile('/proc/loadavg', 'utf8'),
    fsInfo(rootDir),
  ]);
  return {
    startTime: bootTime(procStat),
    cpu: { timestamp: now, usageCoreNanoSeconds: cpuUsageNanoSeconds(procStat) },
    memory: nodeMemory(meminfo, vmstat),
    fs,
    // /proc/loadavg's fourth field: running/total scheduling entities.
    rlimit: { maxpid: Math.min(Number(pidMax.trim()), Number(threadsMax.trim())), curproc: Number(loadavg.split(' ')[3]?.split('/')[1] ?? 0) },
  };
}
