/**
 * The host-gateway pod network between nodes (flannel's host-gw, kubenet with the cloud route
 * controller): every other node's pod subnet is routed via that node's InternalIP, which works
 * when the nodes share a layer-2 network. The routes are this agent's by their protocol number
 * (RouteProtocol), so that a restarted agent finds and corrects what it set before. A route
 * anyone else made is never replaced or removed: a pod subnet whose route would take the place
 * of one (the same destination), or take addresses off a network this host is on, is refused
 * and warned about instead. One agent per host keeps these routes: two would remove each
 * other's.
 */
import type { Logger } from 'pino';
import type { Node } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { cidrContains, cidrCovers, isIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../../common/util/ipv4.js';

/** The `proto` of the routes this agent makes: a number iproute2's rt_protos leaves unnamed. */
export const RouteProtocol = 209;

/** One route to another node's pods. */
export interface NodeRoute {
  /** The node's IPv4 pod subnet. */
  destination: string;
  /** The node's InternalIP ('' for a route of this agent's found without one, to be replaced). */
  gateway: string;
}

/** A route a Node calls for, with the node's name. */
export interface WantedRoute extends NodeRoute {
  node: string;
}

/** A route someone else made. */
export interface ForeignRoute {
  destination: string;
  /** A network this host is on (scope link: the kernel's route to an interface's subnet, say). */
  onLink: boolean;
}

/** The host's routing table as far as the routes to other nodes go. */
export interface RouteSnapshot {
  /** The routes with RouteProtocol. */
  own: NodeRoute[];
  /** Every other IPv4 route of the main table, but the default route. */
  foreign: ForeignRoute[];
  /** This host's IPv4 addresses. */
  localAddresses: string[];
}

/** The host's routing table. */
export interface RouteTable {
  read(): Promise<RouteSnapshot>;
  /** Adds a route; rejects when one to its destination (of the same metric) is there. */
  add(route: NodeRoute): Promise<void>;
  /** Points this agent's route to `destination` at another gateway. */
  replace(route: NodeRoute): Promise<void>;
  /** Removes this agent's route; one already gone is fine. */
  remove(route: NodeRoute): Promise<void>;
}

/** What of this node decides which routes it needs. */
export interface LocalNode {
  name: string;
  /** This node's own pod subnet: another node's that overlaps it is never routed away. */
  podCIDR: Ipv4Cidr;
}

/** A route the Nodes call for that is not made, and why. */
export interface RefusedRoute extends WantedRoute {
  reason: string;
}

/** The routes the Nodes call for, and those refused from the Nodes alone. */
export interface DesiredRoutes {
  routes: WantedRoute[];
  refused: RefusedRoute[];
  /** This node's own Node's pod subnet when it is not this node's --pod-cidr: other nodes route it here. */
  ownNodeSubnet?: string;
}

/** By network address, then prefix, then name: an order the Nodes' order does not change. */
function byNetwork(a: WantedRoute, b: WantedRoute): number {
  const [x, y] = [parseIpv4Cidr(a.destination)!, parseIpv4Cidr(b.destination)!];
  return x.network - y.network || x.prefixLength - y.prefixLength || a.node.localeCompare(b.node);
}

/** A Node's first IPv4 pod subnet (podCIDRs, then podCIDR). */
export function nodePodSubnet(node: Node): Ipv4Cidr | undefined {
  const cidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return cidrs.map((text) => parseIpv4Cidr(text)).find((cidr) => cidr !== undefined);
}

/**
 * The routes this node wants: one per other node with an IPv4 pod subnet and an IPv4
 * InternalIP. A node with neither yet (its subnet not allocated) gets none until it has both.
 * Refused: a subnet that overlaps this node's own (the route would take this node's pods'
 * addresses off its bridge), or another node's (two nodes cannot both have those addresses).
 */
export function desiredRoutes(nodes: readonly Node[], local: LocalNode): DesiredRoutes {
  const candidates: WantedRoute[] = [];
  let ownNodeSubnet: string | undefined;
  for (const node of nodes) {
    const name = node.metadata?.name;
    const destination = nodePodSubnet(node);
    if (name === local.name && destination && destination.text !== local.podCIDR.text) ownNodeSubnet = destination.text;
    if (!name || name === local.name) continue;
    const gateway = node.status?.addresses?.find((address) => address.type === 'InternalIP' && isIpv4(address.address))?.address;
    if (destination && gateway) candidates.push({ node: name, destination: destination.text, gateway });
  }
  candidates.sort(byNetwork);
  const refused = new Map<WantedRoute, string>();
  for (let i = 0; i < candidates.length; i++) {
    const route = candidates[i]!;
    const cidr = parseIpv4Cidr(route.destination)!;
    if (overlap(cidr, local.podCIDR)) refused.set(route, `its pod subnet overlaps this node's, ${local.podCIDR.text}`);
    // Sorted by network address: the subnets that overlap this one start before it ends.
    for (let j = i + 1; j < candidates.length; j++) {
      const next = candidates[j]!;
      if (parseIpv4Cidr(next.destination)!.network >= cidr.network + cidr.size) break;
      refused.set(route, `its pod subnet overlaps node ${next.node}'s, ${next.destination}`);
      refused.set(next, `its pod subnet overlaps node ${route.node}'s, ${route.destination}`);
    }
  }
  return {
    routes: candidates.filter((route) => !refused.has(route)),
    refused: [...refused].map(([route, reason]) => ({ ...route, reason })),
    ...(ownNodeSubnet ? { ownNodeSubnet } : {}),
  };
}

/** Why the table refuses `route`, if it does: what is there that is not this agent's. */
export function tableConflict(route: NodeRoute, snapshot: RouteSnapshot): string | undefined {
  const cidr = parseIpv4Cidr(route.destination)!;
  if (snapshot.localAddresses.includes(route.gateway)) return `its InternalIP ${route.gateway} is an address of this host`;
  if (cidrContains(cidr, route.gateway)) return `its InternalIP ${route.gateway} lies inside its own pod subnet`;
  for (const foreign of snapshot.foreign) {
    const other = parseIpv4Cidr(foreign.destination);
    if (!other) continue;
    if (other.text === cidr.text) return `a route to ${other.text} that this agent did not make is there`;
    if (foreign.onLink && overlap(cidr, other)) return `its pod subnet overlaps ${other.text}, a network this host is on`;
  }
  return undefined;
}

const overlap = (a: Ipv4Cidr, b: Ipv4Cidr): boolean => cidrCovers(a, b) || cidrCovers(b, a);

export interface NodeRoutesOptions {
  table: RouteTable;
  local: LocalNode;
  logger: Logger;
}

/**
 * Keeps the table's routes equal to what the Nodes call for: each sync adds what is missing,
 * points a moved one at its new gateway, and removes the routes of nodes that left. One sync runs
 * at a time; sets that come meanwhile are folded into one more, with the newest.
 */
export class NodeRoutes {
  readonly #o: NodeRoutesOptions;
  readonly #runner = new CoalescingRunner(() => this.#reconcile());
  #nodes: readonly Node[] = [];
  /**
   * What was last warned about each subject (a route's destination, a node whose route is
   * refused, the reading of the table), so that a problem is logged once, and again only when it
   * changes or comes back.
   */
  readonly #warned = new Map<string, string>();

  constructor(options: NodeRoutesOptions) {
    this.#o = options;
  }

  /** Takes the whole current set of Nodes; resolves once the table matches it, or a newer set. */
  sync(nodes: readonly Node[]): Promise<void> {
    this.#nodes = nodes;
    return this.#runner.run();
  }

  /** No more syncs; the routes stay, for the pods that use them. */
  stop(): Promise<void> {
    return this.#runner.stop();
  }

  async #reconcile(): Promise<void> {
    const { table, logger, local } = this.#o;
    const { routes: desired, refused, ownNodeSubnet } = desiredRoutes(this.#nodes, local);
    if (ownNodeSubnet) {
      this.#warnOnce('own node', ownNodeSubnet, () =>
        logger.warn(
          { podCIDR: local.podCIDR.text, nodePodCIDR: ownNodeSubnet },
          `this node's Node has the pod subnet ${ownNodeSubnet}, which other nodes route here, but its pods are on ${local.podCIDR.text}: give it --pod-cidr ${ownNodeSubnet}`,
        ),
      );
    } else {
      this.#warned.delete('own node');
    }
    let snapshot: RouteSnapshot;
    try {
      snapshot = await table.read();
    } catch (err) {
      const message = errorMessage(err);
      this.#warnOnce('read', message, () => logger.warn({ err: message }, 'reading the routing table failed; will try again at the next sync'));
      return;
    }
    this.#warned.delete('read');
    const { own } = snapshot;
    const wanted: WantedRoute[] = [];
    for (const route of desired) {
      const reason = tableConflict(route, snapshot);
      if (reason) refused.push({ ...route, reason });
      else wanted.push(route);
    }
    for (const route of refused) {
      this.#warnOnce(`refused ${route.node}`, `${route.destination} ${route.reason}`, () =>
        logger.warn({ ...fields(route), reason: route.reason }, `no route to node ${route.node}'s pods: ${route.reason}`),
      );
    }
    // Forget the problems of what is gone from both the Nodes and the table.
    const subjects = new Set(['own node', ...[...wanted, ...own].map((route) => route.destination), ...refused.map((route) => `refused ${route.node}`)]);
    for (const subject of this.#warned.keys()) if (!subjects.has(subject)) this.#warned.delete(subject);

    const wantedDestinations = new Set(wanted.map((route) => route.destination));
    for (const route of own) if (!wantedDestinations.has(route.destination)) await this.#apply('remove', route);
    for (const route of wanted) {
      const existing = own.find((o) => o.destination === route.destination);
      if (existing?.gateway === route.gateway) continue;
      await this.#apply(existing ? 'replace' : 'add', route);
    }
  }

  async #apply(action: 'add' | 'replace' | 'remove', route: NodeRoute | WantedRoute): Promise<void> {
    const { table, logger } = this.#o;
    try {
      await table[action]({ destination: route.destination, gateway: route.gateway });
      this.#warned.delete(route.destination);
      logger.info({ ...fields(route) }, action === 'remove' ? "route to a node's pods removed" : "route to a node's pods set");
    } catch (err) {
      const message = errorMessage(err);
      this.#warnOnce(route.destination, message, () =>
        logger.warn(
          { ...fields(route), err: message },
          action === 'remove'
            ? "the route to a node's pods could not be removed"
            : "the route to a node's pods could not be set: is the node on this node's layer-2 network (host-gateway routing needs it)?",
        ),
      );
    }
  }

  #warnOnce(subject: string, problem: string, warn: () => void): void {
    if (this.#warned.get(subject) === problem) return;
    this.#warned.set(subject, problem);
    warn();
  }
}

/** The log fields of a route: the node's name when a Node calls for it. */
function fields(route: NodeRoute | WantedRoute): Record<string, string> {
  return { ...('node' in route ? { node: route.node } : {}), destination: route.destination, gateway: route.gateway };
}
