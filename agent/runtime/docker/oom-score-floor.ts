/**
 * The lowest oom_score_adj containers can be given on this host. Below the score its parent was
 * given (0 for most), a process needs CAP_SYS_RESOURCE in the host's user namespace, which a
 * host that is itself a container (as many CI runners are) may not grant: runc then fails to
 * start the container at all. The agent runs beside the engine, as root: a child of its own
 * tries the lowest score; if the kernel refuses, no score goes below the agent's own, as
 * containerd's restrict_oom_score_adj has it.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export async function oomScoreFloor(): Promise<number> {
  const lowered = await promisify(execFile)('sh', ['-c', 'echo -1000 > /proc/self/oom_score_adj']).then(
    () => true,
    () => false,
  );
  if (lowered) return -1000;
  const own = Number((await readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0')).trim());
  return Number.isInteger(own) ? own : 0;
}
