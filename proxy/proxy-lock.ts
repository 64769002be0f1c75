/**
 * One service proxy per network namespace: the iptables chains, route_localnet and the
 * userspace datapath's service addresses are the namespace's, so two proxies (or a proxy and
 * `dockerlet proxy --cleanup`) would undo each other's work. A host lock (common/util/host-lock.ts)
 * on the datapath says who owns it; the kernel frees it when the owner dies.
 *
 * A userspace proxy can own less: only the addresses of its service CIDR (a test node's slice of
 * the range kept for them). Such proxies run side by side, each locking its own CIDR, and beside
 * the namespace's proxy, whose service CIDR must then not overlap theirs.
 */
import { DockerletError } from '../common/api/errors.js';
import { HostLock, type LockOwner } from '../common/util/host-lock.js';

const DatapathKey = 'proxy/datapath';

/** " (pid 1234: dockerlet up ...)", or "" when the holder did not say. */
export function describeProxy(holder: LockOwner | undefined): string {
  return holder ? ` (pid ${holder['pid']}: ${holder['command']})` : '';
}

/** What a proxy owns: the network namespace's whole datapath, or (userspace only) the addresses of one service CIDR. */
export type DatapathScope = { kind: 'network-namespace' } | { kind: 'service-cidr'; serviceCIDR: string };

/** Takes the datapath `scope` names for `doing` ("run", "clean up"), or rejects naming the proxy that has it. */
export function lockDatapath(doing: string, scope: DatapathScope = { kind: 'network-namespace' }): Promise<HostLock> {
  const owner = { pid: process.pid, command: ['dockerlet', ...process.argv.slice(2)].join(' ') };
  const [key, what] = scope.kind === 'network-namespace' ? [DatapathKey, "this host's service rules"] : [`proxy/service-cidr/${scope.serviceCIDR}`, `the service addresses of ${scope.serviceCIDR}`];
  return HostLock.acquire([key], owner, (_key, holder) => {
    return new DockerletError('DKL_ERR_RUNTIME', `another dockerlet proxy${describeProxy(holder)} owns ${what}: this one cannot ${doing} beside it, they would undo each other's work; stop that one first`);
  });
}

/** Who owns this network namespace's datapath, or undefined when no proxy runs. */
export function datapathOwner(): Promise<LockOwner | undefined> {
  return HostLock.holder(DatapathKey);
}
