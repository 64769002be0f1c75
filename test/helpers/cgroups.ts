/**
 * Removing a test node's cgroups, for helpers that must not pull in the node assembly (the
 * multi-node lab, which the benchmarks use as well as the tests).
 */
import { removeCgroups } from '../../agent/qos/cgroup-manager.js';
import { waitFor } from './wait-for.js';

/**
 * Removes a test node's root cgroup and what is in it. Never throws: what is left (processes
 * still in it: a container of a private engine still stopping, whose own teardown removes it)
 * is tried again for a few seconds, then named in a warning.
 */
export async function removeNodeCgroups(root: string): Promise<void> {
  try {
    let left = await removeCgroups([[root]]);
    if (left.length > 0) {
      await waitFor(`the cgroups of ${root} to be removable`, async () => (left = await removeCgroups([[root]])).length === 0, { timeoutMs: 5_000, intervalMs: 250 }).catch(() => undefined);
    }
    if (left.length > 0) console.warn(`left cgroups of ${root} in place (${left.map((cgroup) => `${cgroup.path}: ${cgroup.reason}`).join('; ')})`);
  } catch (err) {
    console.warn(`could not remove the cgroups of ${root}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
