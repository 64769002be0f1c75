/**
 * The cluster's processes as another process sees them: by pid and command line, read from
 * /proc. A pid alone is not enough, since the kernel reuses them: a recorded process counts as
 * running only while that pid still runs the command line recorded for it.
 */
import { readFile } from 'node:fs/promises';
import { delay } from '../../common/util/clock.js';
import type { RunningProcess } from './cluster-state.js';

/** How often a process that is not our child is looked at while it stops. */
const PollMs = 100;

/** The command line of a process, its arguments joined by spaces, as recorded in cluster.json. */
export const commandLine = (argv: readonly string[]): string => argv.join(' ');

/** Whether `recorded` still runs: its pid alive (not a zombie) with the same command line. */
export async function isRunning(recorded: RunningProcess): Promise<boolean> {
  try {
    const [cmdline, stat] = await Promise.all([readFile(`/proc/${recorded.pid}/cmdline`, 'utf8'), readFile(`/proc/${recorded.pid}/stat`, 'utf8')]);
    // The state follows the parenthesized command name: "pid (comm) S ...".
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && commandLine(cmdline.replace(/\0$/, '').split('\0')) === recorded.command;
  } catch {
    return false;
  }
}

/** SIGTERM to `recorded` if it still runs, SIGKILL after `graceMs`; resolves once it is gone. */
export async function endProcess(recorded: RunningProcess, graceMs: number): Promise<void> {
  if (!(await isRunning(recorded))) return;
  signal(recorded.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let killed = false;
  while (await isRunning(recorded)) {
    if (!killed && Date.now() >= deadline) {
      signal(recorded.pid, 'SIGKILL');
      killed = true;
    }
    await delay(PollMs, undefined, true);
  }
}

/** A signal to a process that may have just ended: ESRCH is no error. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
