/** A process's CPU time and resident memory, from /proc (what top and ps read). */
import { readFile } from 'node:fs/promises';

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream architecture). */
const TicksPerSecond = 100;

export interface ProcessUsage {
  /** User + system CPU seconds of the process itself, since it started. */
  cpuSeconds: number;
  /** Resident set size, bytes. */
  rssBytes: number;
}

export async function processUsage(pid: number): Promise<ProcessUsage> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return { cpuSeconds: (utime + stime) / TicksPerSecond, rssBytes: rssKiB * 1024 };
}
