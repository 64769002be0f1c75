/**
 * The host-gateway pod network between nodes (flannel's host-gw, kubenet with the cloud route
 * controller): every other node's pod subnet is routed via that node's InternalIP, which works
 * when the nodes share a layer-2 network. The routes are this agent's by their protocol number
 * (RouteProtocol), so that a restarted agent finds and corrects what it set before, and never
 * touches a route anyone else made.
 */
import type { Logger } from 'pino';
import type { Node } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';
import { cidrCovers, isIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../../common/util/ipv4.js';

/** The `proto` of the routes this agent makes: a number iproute2's rt_protos leaves unnamed. */
export const RouteProtocol = 209;

/** One route to another node's pods. */
export interface NodeRoute {
  /** The node's IPv4 pod subnet. */
  destination: string;
  /** The node's InternalIP. */
  gateway: string;
}

/** A route a Node calls for, with the node's name. */
export interface WantedRoute extends NodeRoute {
  node: string;
}

/** What of this node decides which routes it needs. */
export interface LocalNode {
  name: string;
  /** This node's own pod subnet: another node's that overlaps it is never routed away. */
  podCIDR: Ipv4Cidr;
  /** This host's addresses: a node at one of them shares this host, and its pods need no route. */
  hostIPs: readonly string[];
}

/** The routes the Nodes call for, and the nodes whose pod subnet cannot be routed. */
export interface DesiredRoutes {
  routes: WantedRoute[];
  /** Nodes whose pod subnet overlaps this node's, with it. */
  overlapping: WantedRoute[];
}

/**
 * The routes this node wants: one per other node with an IPv4 pod subnet and an IPv4
 * InternalIP. A node with neither yet (its subnet not allocated) gets none until it has both; so
 * does a node on this same host, and a node whose subnet overlaps this node's own (a route
 * would take this node's own pods' addresses away from its bridge).
 */
export function desiredRoutes(nodes: readonly Node[], local: LocalNode): DesiredRoutes {
  const wanted: DesiredRoutes = { routes: [], overlapping: [] };
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name || name === local.name) continue;
    const cidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
    const destination = cidrs.map((text) => parseIpv4Cidr(text)).find((cidr) => cidr !== undefined);
    const gateway = node.status?.addresses?.find((address) => address.type === 'InternalIP' && isIpv4(address.address))?.address;
    if (!destination || !gateway || local.hostIPs.includes(gateway)) continue;
    const route = { node: name, destination: destination.text, gateway };
    if (cidrCovers(destination, local.podCIDR) || cidrCovers(local.podCIDR, destination)) wanted.overlapping.push(route);
    else wanted.routes.push(route);
  }
  wanted.routes.sort((a, b) => a.destination.localeCompare(b.destination));
  return wanted;
}

/** The host's routing table, as far as this agent's routes go. */
export interface RouteTable {
  /** The routes with RouteProtocol. */
  list(): Promise<NodeRoute[]>;
  /** Sets the route to `destination`, replacing any other of the same destination. */
  replace(route: NodeRoute): Promise<void>;
  /** Removes the route; one already gone is fine. */
  remove(route: NodeRoute): Promise<void>;
}

export interface NodeRoutesOptions {
  table: RouteTable;
  local: LocalNode;
  logger: Logger;
}

/**
 * Keeps the table's routes equal to what the Nodes call for: each sync sets what is missing or
 * points elsewhere and removes the routes of nodes that left. One sync runs at a time; sets that
 * come meanwhile are folded into one more, with the newest.
 */
export class NodeRoutes {
  readonly #o: NodeRoutesOptions;
  readonly #runner = new CoalescingRunner(() => this.#reconcile(desiredRoutes(this.#nodes, this.#o.local)));
  #nodes: readonly Node[] = [];
  /**
   * What was last warned about each subject (a route's destination, an overlapping node, the
   * listing), so that a problem is logged once, and again only when it changes or comes back.
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

  async #reconcile({ routes: desired, overlapping }: DesiredRoutes): Promise<void> {
    const { table, logger, local } = this.#o;
    for (const route of overlapping) {
      this.#warnOnce(`overlap ${route.node}`, route.destination, () =>
        logger.warn(
          { ...fields(route), podCIDR: local.podCIDR.text },
          "a node's pod subnet overlaps this node's own: no route to it; give each node its own subnet (the controller manager's --allocate-node-cidrs, or a podCIDR of its own)",
        ),
      );
    }
    let current: NodeRoute[];
    try {
      current = await table.list();
    } catch (err) {
      const message = errorMessage(err);
      this.#warnOnce('list', message, () => logger.warn({ err: message }, 'listing the routes to other nodes failed; will try again at the next sync'));
      return;
    }
    // Forget the problems of subjects gone from both the Nodes and the table.
    const subjects = new Set([...desired, ...current].map((route) => route.destination).concat(overlapping.map((route) => `overlap ${route.node}`)));
    for (const subject of this.#warned.keys()) if (!subjects.has(subject)) this.#warned.delete(subject);
    const wanted = new Set(desired.map((route) => route.destination));
    for (const route of current) if (!wanted.has(route.destination)) await this.#apply('remove', route);
    for (const route of desired) {
      if (current.some((c) => c.destination === route.destination && c.gateway === route.gateway)) continue;
      await this.#apply('replace', route);
    }
  }

  async #apply(action: 'replace' | 'remove', route: NodeRoute | WantedRoute): Promise<void> {
    const { table, logger } = this.#o;
    try {
      await table[action]({ destination: route.destination, gateway: route.gateway });
      this.#warned.delete(route.destination);
      logger.info({ ...fields(route) }, action === 'replace' ? "route to a node's pods set" : "route to a node's pods removed");
    } catch (err) {
      const message = errorMessage(err);
      this.#warnOnce(route.destination, message, () =>
        logger.warn(
          { ...fields(route), err: message },
          action === 'replace'
            ? "the route to a node's pods could not be set: is the node on this node's layer-2 network (host-gateway routing needs it)?"
            : "the route to a node's pods could not be removed",
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
