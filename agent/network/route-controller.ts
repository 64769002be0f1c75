/**
 * A cluster node's routes to the other nodes' pods, kept from the API server's Nodes: the Nodes
 * are listed and watched, and the routing table is brought in line after every change of the
 * routes they call for and every RouteResyncMs besides (the cloud route controller's
 * --route-reconciliation-period), so a route the kernel refused, or one removed by hand, is set
 * again without waiting for a Node to change. While the API server is away the routes stay as
 * they are. It runs once: stop() is the end.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Node } from '../../common/api/types.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import { Reflector } from '../../common/kube-api/reflector.js';
import { IpRouteTable } from './ip-route-table.js';
import { desiredRoutes, NodeRoutes, type LocalNode, type RouteTable } from './node-routes.js';

const RouteResyncMs = 10_000;

export interface RouteControllerOptions {
  client: KubeApi;
  local: LocalNode;
  logger: Logger;
  /** The host's table through iproute2 unless given. */
  table?: RouteTable;
  /** Told the pod subnets of the cluster at each sync: the masquerade and forward rules that go with the routes. */
  podNetwork?: { sync(clusterSubnets: readonly string[]): Promise<void>; stop(): Promise<void> };
  resyncPeriodMs?: number;
}

export class RouteController {
  readonly #routes: NodeRoutes;
  readonly #reflector: Reflector<Node>;
  readonly #resyncPeriodMs: number;
  readonly #log: Logger;
  readonly #podNetwork: RouteControllerOptions['podNetwork'];
  /** The Nodes of the last list or watch event; undefined until the first list. */
  #nodes: Node[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** What the Nodes of the last sync called for, to tell a Node event that changes a route. */
  #wanted: string | undefined;
  /** The pod subnets those routes are for, routed here or not (a route someone else keeps): the cluster's, for the pod network rules. */
  #clusterSubnets: string[] = [];

  constructor(options: RouteControllerOptions) {
    this.#resyncPeriodMs = options.resyncPeriodMs ?? RouteResyncMs;
    this.#log = options.logger;
    this.#podNetwork = options.podNetwork;
    this.#routes = new NodeRoutes({ table: options.table ?? new IpRouteTable(), local: options.local, logger: options.logger });
    this.#reflector = new Reflector<Node>({
      client: options.client,
      path: '/api/v1/nodes',
      onSync: (nodes) => {
        this.#nodes = nodes;
        // Most Node events are status updates that change no route: those wait for the resync.
        const desired = desiredRoutes(nodes, options.local);
        const wanted = JSON.stringify(desired);
        if (wanted === this.#wanted) return;
        this.#wanted = wanted;
        this.#clusterSubnets = desired.routes.map((route) => route.destination);
        this.#sync();
      },
      logger: options.logger,
    });
  }

  start(): void {
    this.#reflector.start();
    this.#timer ??= setInterval(() => this.#sync(), this.#resyncPeriodMs);
  }

  /** The watch and the resync end; the routes stay, for the pods that use them. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#reflector.stop();
    await this.#routes.stop();
    await this.#podNetwork?.stop();
  }

  #sync(): void {
    if (!this.#nodes) return;
    this.#routes.sync(this.#nodes).catch((err: unknown) => this.#log.error({ err: errorMessage(err) }, 'keeping the routes to other nodes failed; will try again at the next sync'));
    void this.#podNetwork?.sync(this.#clusterSubnets);
  }
}
