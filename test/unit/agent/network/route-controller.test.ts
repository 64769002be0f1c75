/**
 * RouteController: the Nodes listed and watched from a fake API server, the routes in a fake
 * table, the resync on fake timers. A sync reads the table at once (NodeRoutes starts its
 * reconcile in the same turn), so "no sync" is seen as no read right after an event; the resync's
 * setInterval is the only timer faked, and waits are turns of the event loop, never sleeps.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { RouteController } from '../../../../agent/network/route-controller.js';
import type { LocalNode, NodeRoute, RouteSnapshot, RouteTable } from '../../../../agent/network/node-routes.js';
import type { Node } from '../../../../common/api/types.js';
import type { KubeApi, WatchEvent } from '../../../../common/kube-api/kube-client.js';
import { parseIpv4Cidr } from '../../../../common/util/ipv4.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

const self: LocalNode = { name: 'self', podCIDR: parseIpv4Cidr('10.244.0.0/24')! };

let version = 0;

function node(name: string, podCIDR: string, internalIP: string, heartbeat = '2024-01-01T00:00:00Z'): Node {
  return {
    metadata: { name, resourceVersion: String(++version) },
    spec: { podCIDR, podCIDRs: [podCIDR] },
    status: {
      addresses: [{ type: 'InternalIP', address: internalIP }],
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat }],
    },
  };
}

/** An API server with one Node list to give and one watch it feeds with `emit`; nothing else is asked of it. */
class NodesApi implements Pick<KubeApi, 'get' | 'watch'> {
  readonly lists: string[] = [];
  #onEvent: ((event: WatchEvent<Node>) => void) | undefined;

  constructor(readonly nodes: Node[]) {}

  async get<T>(path: string): Promise<T> {
    this.lists.push(path);
    return { metadata: { resourceVersion: String(version) }, items: this.nodes } as T;
  }

  watch<T>(_path: string, _query: unknown, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    this.#onEvent = onEvent as (event: WatchEvent<Node>) => void;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  get watching(): boolean {
    return this.#onEvent !== undefined;
  }

  emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Node): void {
    this.#onEvent!({ type, object });
  }
}

/** This agent's routes in memory, every call recorded. */
class FakeTable implements RouteTable {
  own: NodeRoute[] = [];
  readonly calls: string[] = [];

  async read(): Promise<RouteSnapshot> {
    this.calls.push('read');
    return { own: this.own.map((route) => ({ ...route })), foreign: [], localAddresses: ['192.168.50.10'] };
  }

  async add(route: NodeRoute): Promise<void> {
    this.calls.push(`add ${route.destination} via ${route.gateway}`);
    this.own.push(route);
  }

  async replace(route: NodeRoute): Promise<void> {
    this.calls.push(`replace ${route.destination} via ${route.gateway}`);
    this.own = [...this.own.filter((r) => r.destination !== route.destination), route];
  }

  async remove(route: NodeRoute): Promise<void> {
    this.calls.push(`remove ${route.destination} via ${route.gateway}`);
    this.own = this.own.filter((r) => r.destination !== route.destination);
  }

  /** The calls so far, forgotten. */
  take(): string[] {
    return this.calls.splice(0);
  }
}

/** Waits for `check` to pass, a turn of the event loop at a time (vi.waitFor would move the fake clock on). */
async function until(check: () => void): Promise<void> {
  for (let turn = 0; ; turn++) {
    try {
      return check();
    } catch (err) {
      if (turn >= 1_000) throw err;
      await nextTurn();
    }
  }
}

let api: NodesApi;
let table: FakeTable;
let controller: RouteController;

/** The cluster's pod subnets each sync told the pod network rules, and whether they were stopped. */
const podNetwork = { syncs: [] as string[][], stopped: false, sync: async (subnets: readonly string[]) => void podNetwork.syncs.push([...subnets]), stop: async () => void (podNetwork.stopped = true) };

/** A controller started on `nodes`, once it has set their routes and watches. */
async function started(nodes: Node[], wanted: string[]): Promise<void> {
  api = new NodesApi(nodes);
  table = new FakeTable();
  podNetwork.syncs = [];
  podNetwork.stopped = false;
  controller = new RouteController({ client: api as unknown as KubeApi, local: self, table, podNetwork, logger: memoryLogger().logger });
  controller.start();
  await until(() => expect({ watching: api.watching, calls: table.calls }).toEqual({ watching: true, calls: ['read', ...wanted] }));
  table.take();
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});

afterEach(async () => {
  await controller.stop();
  vi.useRealTimers();
});

describe('RouteController', () => {
  test("a Node's heartbeat or status changing, and not its podCIDR or InternalIP, neither reads nor writes the table", async () => {
    await started([node('self', '10.244.0.0/24', '192.168.50.10'), node('a', '10.244.1.0/24', '192.168.50.11')], ['add 10.244.1.0/24 via 192.168.50.11']);
    api.emit('MODIFIED', node('a', '10.244.1.0/24', '192.168.50.11', '2024-01-01T00:00:40Z'));
    api.emit('MODIFIED', { ...node('self', '10.244.0.0/24', '192.168.50.10', '2024-01-01T00:00:40Z'), metadata: { name: 'self', labels: { new: 'label' } } });
    await nextTurn();
    expect(table.calls).toEqual([]);
  });

  test("a new Node's podCIDR is routed via its InternalIP", async () => {
    await started([node('self', '10.244.0.0/24', '192.168.50.10')], []);
    api.emit('ADDED', node('b', '10.244.2.0/24', '192.168.50.12'));
    await until(() => expect(table.calls).toEqual(['read', 'add 10.244.2.0/24 via 192.168.50.12']));
  });

  test('every 10 s the table is brought back in line: a route removed behind its back is set again', async () => {
    await started([node('self', '10.244.0.0/24', '192.168.50.10'), node('a', '10.244.1.0/24', '192.168.50.11')], ['add 10.244.1.0/24 via 192.168.50.11']);
    table.own = [];
    vi.advanceTimersByTime(9_999);
    await nextTurn();
    expect(table.calls).toEqual([]);
    vi.advanceTimersByTime(1);
    await until(() => expect(table.calls).toEqual(['read', 'add 10.244.1.0/24 via 192.168.50.11']));
    expect(table.own).toEqual([{ destination: '10.244.1.0/24', gateway: '192.168.50.11' }]);
  });

  test("a deleted Node's route is removed", async () => {
    const a = node('a', '10.244.1.0/24', '192.168.50.11');
    await started([node('self', '10.244.0.0/24', '192.168.50.10'), a, node('b', '10.244.2.0/24', '192.168.50.12')], ['add 10.244.1.0/24 via 192.168.50.11', 'add 10.244.2.0/24 via 192.168.50.12']);
    api.emit('DELETED', a);
    await until(() => expect(table.calls).toEqual(['read', 'remove 10.244.1.0/24 via 192.168.50.11']));
    expect(table.own).toEqual([{ destination: '10.244.2.0/24', gateway: '192.168.50.12' }]);
  });

  test("each sync tells the pod network rules the subnets routed, not a refused one (overlapping this node's), and stop() stops them", async () => {
    await started(
      [node('self', '10.244.0.0/24', '192.168.50.10'), node('a', '10.244.1.0/24', '192.168.50.11'), node('clash', '10.244.0.128/25', '192.168.50.13')],
      ['add 10.244.1.0/24 via 192.168.50.11'],
    );
    expect(podNetwork.syncs).toEqual([['10.244.1.0/24']]);
    api.emit('ADDED', node('b', '10.244.2.0/24', '192.168.50.12'));
    await until(() => expect(podNetwork.syncs.at(-1)).toEqual(['10.244.1.0/24', '10.244.2.0/24']));
    vi.advanceTimersByTime(10_000);
    await until(() => expect(podNetwork.syncs).toHaveLength(3));
    await controller.stop();
    expect(podNetwork.stopped).toBe(true);
  });
});
