/**
 * The lowest oom_score_adj the engine can give a container on this host. Lowering a score below
 * 0 takes CAP_SYS_RESOURCE, which a host that is itself a container (as many CI runners are)
 * may not grant: runc then fails to start the container at all. The agent runs beside the
 * engine, as root, so its own capabilities tell: without that one, negative scores are raised to
 * 0 rather than making every Guaranteed pod fail.
 */
import { readFile } from 'node:fs/promises';

const CapSysResource = 24n;

/** -1000 when the agent holds CAP_SYS_RESOURCE, else 0. */
export async function oomScoreFloor(statusPath = '/proc/self/status'): Promise<number> {
  const status = await readFile(statusPath, 'utf8').catch(() => '');
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (effective === undefined) return 0;
  return (BigInt(`0x${effective}`) >> CapSysResource) & 1n ? -1000 : 0;
}
