/**
 * Stale UDP conntrack entries. UDP has no connection to close: once a flow is in the conntrack
 * table, its packets keep the NAT decision made for the first one, so a client keeps sending to
 * an endpoint that is gone (DNS black-holed after a pod restart, a problem kube-proxy has long
 * had to handle). After each sync the entries that no longer match the rules are deleted, as
 * kube-proxy's ClearEntriesForNAT / ClearEntriesForPortNAT / ClearEntriesForIP / ClearEntriesForPort
 * do with the conntrack binary. TCP needs none of this: a gone endpoint resets the connection.
 */
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../proxier.js';

/** Arguments of one `conntrack` run, and why it runs. */
export interface ConntrackDeletion {
  args: string[];
  reason: string;
}

/**
 * What to delete after going from `previous` to `next`:
 * - a UDP service port that went away (or changed VIP, port or NodePort): its flows to the VIP
 *   and port, and to its NodePort;
 * - a UDP endpoint that went away from a port that stays: the flows NATed to it, by VIP and by NodePort;
 * - a UDP service port that had no endpoints and now has some: its flows to the VIP and NodePort,
 *   which were created while it was rejecting and would never be NATed (kube-proxy's
 *   "newly active UDP services").
 * With no `previous` (the first sync of this process) nothing is deleted: the rules a previous
 * process left are still in place, and wiping every UDP flow on restart would cut live flows.
 */
export function staleConntrackDeletions(previous: ProxyState | undefined, next: ProxyState): ConntrackDeletion[] {
  if (!previous) return [];
  const out: ConntrackDeletion[] = [];
  const seen = new Set<string>();
  const add = (args: string[], reason: string): void => {
    const key = args.join(' ');
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ args, reason });
  };
  const nextPorts = new Map<string, ServicePortInfo>();
  for (const sp of next.servicePorts) if (!nextPorts.has(sp.id)) nextPorts.set(sp.id, sp);

  const previousPorts = new Map<string, ServicePortInfo>();
  for (const sp of previous.servicePorts) if (!previousPorts.has(sp.id)) previousPorts.set(sp.id, sp);

  for (const before of previousPorts.values()) {
    if (before.protocol !== 'UDP') continue;
    const after = nextPorts.get(before.id);
    if (!after || !sameFrontends(before, after)) {
      add(flowsTo(before.clusterIP, before.port), `${before.id} went away`);
      if (before.nodePort !== undefined) add(flowsToNodePort(before.nodePort), `${before.id} went away`);
      continue;
    }
    const remaining = new Set(endpointsOf(next, after.id).map(key));
    for (const ep of endpointsOf(previous, before.id)) {
      if (remaining.has(key(ep))) continue;
      add([...flowsTo(before.clusterIP, before.port), '--reply-src', ep.ip, '--reply-port-src', String(ep.port)], `${before.id} lost endpoint ${key(ep)}`);
      if (before.nodePort !== undefined) {
        add([...flowsToNodePort(before.nodePort), '--reply-src', ep.ip, '--reply-port-src', String(ep.port)], `${before.id} lost endpoint ${key(ep)}`);
      }
    }
  }

  for (const after of nextPorts.values()) {
    if (after.protocol !== 'UDP' || endpointsOf(next, after.id).length === 0) continue;
    const before = previousPorts.get(after.id);
    const hadEndpoints = before !== undefined && sameFrontends(before, after) && endpointsOf(previous, after.id).length > 0;
    if (hadEndpoints) continue;
    const reason = before === undefined ? `${after.id} is new` : sameFrontends(before, after) ? `${after.id} has endpoints again` : `${after.id} changed`;
    add(flowsTo(after.clusterIP, after.port), reason);
    if (after.nodePort !== undefined) add(flowsToNodePort(after.nodePort), reason);
  }
  return out;
}

function flowsTo(ip: string, port: number): string[] {
  return ['-D', '-p', 'udp', '--orig-dst', ip, '--orig-port-dst', String(port)];
}

function flowsToNodePort(nodePort: number): string[] {
  return ['-D', '-p', 'udp', '--orig-port-dst', String(nodePort)];
}

function sameFrontends(a: ServicePortInfo, b: ServicePortInfo): boolean {
  return a.clusterIP === b.clusterIP && a.port === b.port && a.nodePort === b.nodePort && a.protocol === b.protocol;
}

function endpointsOf(state: ProxyState, id: string): readonly EndpointInfo[] {
  return state.endpoints.get(id) ?? [];
}

function key(ep: EndpointInfo): string {
  return `${ep.ip}:${ep.port}`;
}

/** conntrack -D exits 1 when nothing matched; that is not a failure. */
export function isNothingDeleted(stderr: string): boolean {
  return stderr.includes('0 flow entries have been deleted');
}
