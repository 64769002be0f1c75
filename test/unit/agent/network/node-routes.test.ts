/** Routes to other nodes' pods from the Nodes: which routes, and keeping a table equal to them. */
import { describe, expect, test } from 'vitest';
import { desiredRoutes, NodeRoutes, tableConflict, type ForeignRoute, type LocalNode, type NodeRoute, type RouteSnapshot, type RouteTable } from '../../../../agent/network/node-routes.js';
import type { Node } from '../../../../common/api/types.js';
import { parseIpv4Cidr } from '../../../../common/util/ipv4.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';

function node(name: string, podCIDR: string | undefined, internalIP: string | undefined, extra: Partial<Node> = {}): Node {
  return {
    metadata: { name },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: { addresses: [{ type: 'Hostname', address: name }, ...(internalIP ? [{ type: 'InternalIP', address: internalIP }] : [])] },
    ...extra,
  };
}

const self: LocalNode = { name: 'self', podCIDR: parseIpv4Cidr('10.244.0.0/24')! };

/**
 * A routing table in memory, as the kernel keeps one: this agent's routes, others' routes (the
 * nodes' network 192.168.50.0/24 on a link), and this host's addresses. It records what it was
 * asked, refuses an add over an existing destination, and can be told to refuse more.
 */
class MemoryTable implements RouteTable {
  own: NodeRoute[] = [];
  foreign: ForeignRoute[] = [{ destination: '192.168.50.0/24', onLink: true }];
  localAddresses = ['192.168.50.10'];
  readonly calls: string[] = [];
  refuse: ((route: NodeRoute) => Error | undefined) | undefined;

  async read(): Promise<RouteSnapshot> {
    return { own: this.own.map((route) => ({ ...route })), foreign: [...this.foreign], localAddresses: [...this.localAddresses] };
  }

  async add(route: NodeRoute): Promise<void> {
    this.calls.push(`add ${route.destination} via ${route.gateway}`);
    if ([...this.own, ...this.foreign].some((r) => r.destination === route.destination)) throw new Error('RTNETLINK answers: File exists');
    this.#set(route);
  }

  async replace(route: NodeRoute): Promise<void> {
    this.calls.push(`replace ${route.destination} via ${route.gateway}`);
    this.#set(route);
  }

  async remove(route: NodeRoute): Promise<void> {
    this.calls.push(`remove ${route.destination} via ${route.gateway}`);
    this.own = this.own.filter((r) => r.destination !== route.destination);
  }

  #set(route: NodeRoute): void {
    const refused = this.refuse?.(route);
    if (refused) throw refused;
    this.own = [...this.own.filter((r) => r.destination !== route.destination), route];
  }
}

describe('desiredRoutes', () => {
  test("one route per other node: its pod subnet via its InternalIP, never to this node's own, in address order", () => {
    const nodes = [node('c', '10.244.10.0/24', '192.168.50.13'), node('b', '10.244.2.0/24', '192.168.50.12'), node('a', '10.244.1.0/24', '192.168.50.11'), node('self', '10.244.0.0/24', '192.168.50.10')];
    expect(desiredRoutes(nodes, self)).toEqual({
      routes: [
        { node: 'a', destination: '10.244.1.0/24', gateway: '192.168.50.11' },
        { node: 'b', destination: '10.244.2.0/24', gateway: '192.168.50.12' },
        { node: 'c', destination: '10.244.10.0/24', gateway: '192.168.50.13' },
      ],
      refused: [],
    });
  });

  test('a node without a pod subnet yet, or without an IPv4 InternalIP, gets no route', () => {
    const nodes = [
      node('unallocated', undefined, '192.168.50.11'),
      node('no-address', '10.244.2.0/24', undefined),
      node('v6-only', '10.244.3.0/24', undefined, { status: { addresses: [{ type: 'InternalIP', address: 'fd00::3' }] } }),
    ];
    expect(desiredRoutes(nodes, self)).toEqual({ routes: [], refused: [] });
  });

  test('podCIDRs is read before podCIDR, and its first IPv4 subnet is the one routed (dual-stack)', () => {
    const dual = node('dual', undefined, '192.168.50.11', { spec: { podCIDR: 'fd00:10:244:1::/64', podCIDRs: ['fd00:10:244:1::/64', '10.244.1.0/24'] } });
    const legacy = node('legacy', undefined, '192.168.50.12', { spec: { podCIDR: '10.244.2.0/24' } });
    expect(desiredRoutes([dual, legacy], self).routes).toEqual([
      { node: 'dual', destination: '10.244.1.0/24', gateway: '192.168.50.11' },
      { node: 'legacy', destination: '10.244.2.0/24', gateway: '192.168.50.12' },
    ]);
  });

  test.each([
    ['inside it', '10.244.0.128/25'],
    ['around it', '10.240.0.0/12'],
  ])("a node whose pod subnet overlaps this node's (%s) is refused", (_, podCIDR) => {
    expect(desiredRoutes([node('clash', podCIDR, '192.168.50.11')], self)).toEqual({
      routes: [],
      refused: [{ node: 'clash', destination: podCIDR, gateway: '192.168.50.11', reason: "its pod subnet overlaps this node's, 10.244.0.0/24" }],
    });
  });

  test("nodes whose pod subnets overlap each other's are all refused, the others routed", () => {
    const nodes = [node('a', '10.244.1.0/24', '192.168.50.11'), node('twin', '10.244.1.0/24', '192.168.50.12'), node('wide', '10.244.0.0/22', '192.168.50.14'), node('apart', '10.244.8.0/24', '192.168.50.13')];
    const { routes, refused } = desiredRoutes(nodes, { name: 'self', podCIDR: parseIpv4Cidr('10.250.0.0/24')! });
    expect(routes).toEqual([{ node: 'apart', destination: '10.244.8.0/24', gateway: '192.168.50.13' }]);
    expect(refused.map((route) => route.node).sort()).toEqual(['a', 'twin', 'wide']);
    expect(refused.find((route) => route.node === 'twin')?.reason).toMatch(/overlaps node (a|wide)'s/);
  });
});

describe('tableConflict', () => {
  const snapshot: RouteSnapshot = {
    own: [],
    foreign: [
      { destination: '192.168.50.0/24', onLink: true },
      { destination: '172.17.0.0/16', onLink: true },
      { destination: '10.9.0.0/16', onLink: false },
      { destination: '10.0.0.0/8', onLink: false },
    ],
    localAddresses: ['192.168.50.10', '172.17.0.1'],
  };

  test.each([
    [{ destination: '10.9.0.0/16', gateway: '192.168.50.11' }, 'a route to 10.9.0.0/16 that this agent did not make is there'],
    [{ destination: '192.168.50.0/24', gateway: '10.1.1.1' }, 'a route to 192.168.50.0/24 that this agent did not make is there'],
    [{ destination: '172.17.5.0/24', gateway: '192.168.50.11' }, 'its pod subnet overlaps 172.17.0.0/16, a network this host is on'],
    [{ destination: '192.168.0.0/16', gateway: '10.1.1.1' }, 'its pod subnet overlaps 192.168.50.0/24, a network this host is on'],
    [{ destination: '10.244.1.0/24', gateway: '172.17.0.1' }, 'its InternalIP 172.17.0.1 is an address of this host'],
    [{ destination: '10.244.1.0/24', gateway: '10.244.1.1' }, 'its InternalIP 10.244.1.1 lies inside its own pod subnet'],
  ])('%j is refused: %s', (route, reason) => {
    expect(tableConflict(route, snapshot)).toBe(reason);
  });

  test('a subnet inside a wider route through a router is routed: the more specific route is the point', () => {
    expect(tableConflict({ destination: '10.244.1.0/24', gateway: '192.168.50.11' }, snapshot)).toBeUndefined();
  });
});

describe('NodeRoutes', () => {
  const setUp = (): { table: MemoryTable; routes: NodeRoutes; log: ReturnType<typeof memoryLogger> } => {
    const table = new MemoryTable();
    const log = memoryLogger();
    return { table, routes: new NodeRoutes({ table, local: self, logger: log.logger }), log };
  };

  test('adds the missing routes, leaves the right ones alone, points a moved one at its new address, and removes those of nodes that left', async () => {
    const { table, routes } = setUp();
    table.own = [
      { destination: '10.244.1.0/24', gateway: '192.168.50.11' },
      { destination: '10.244.2.0/24', gateway: '192.168.50.99' },
      { destination: '10.244.9.0/24', gateway: '192.168.50.19' },
    ];
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11'), node('b', '10.244.2.0/24', '192.168.50.12'), node('c', '10.244.3.0/24', '192.168.50.13')]);
    expect(table.calls).toEqual(['remove 10.244.9.0/24 via 192.168.50.19', 'replace 10.244.2.0/24 via 192.168.50.12', 'add 10.244.3.0/24 via 192.168.50.13']);
    expect(table.own).toHaveLength(3);

    table.calls.length = 0;
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11'), node('b', '10.244.2.0/24', '192.168.50.12'), node('c', '10.244.3.0/24', '192.168.50.13')]);
    expect(table.calls).toEqual([]);
  });

  test("a route of someone else's to a node's pod subnet is never replaced: the node is warned about once, and this agent's own route there goes", async () => {
    const { table, routes, log } = setUp();
    table.own = [{ destination: '10.244.1.0/24', gateway: '192.168.50.11' }];
    table.foreign.push({ destination: '10.244.1.0/24', onLink: false });
    const nodes = [node('a', '10.244.1.0/24', '192.168.50.11')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    expect(table.calls).toEqual(['remove 10.244.1.0/24 via 192.168.50.11']);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ node: 'a', destination: '10.244.1.0/24', reason: 'a route to 10.244.1.0/24 that this agent did not make is there' });
    expect(warnings[0]!.msg).toBe("no route to node a's pods: a route to 10.244.1.0/24 that this agent did not make is there");
  });

  test('sets given while a sync runs fold into one more, with the newest', async () => {
    const { table, routes } = setUp();
    const first = routes.sync([node('a', '10.244.1.0/24', '192.168.50.11')]);
    void routes.sync([node('b', '10.244.2.0/24', '192.168.50.12')]);
    const last = routes.sync([node('c', '10.244.3.0/24', '192.168.50.13')]);
    await Promise.all([first, last]);
    expect(table.own).toEqual([{ destination: '10.244.3.0/24', gateway: '192.168.50.13' }]);
    expect(table.calls.filter((call) => call.includes('10.244.2.0/24'))).toEqual([]);
  });

  test('a route the kernel refuses is logged once with what to check, the others are still set, and it is tried again at the next sync', async () => {
    const { table, routes, log } = setUp();
    table.refuse = (route) => (route.gateway === '10.0.0.1' ? new Error('Error: Nexthop has invalid gateway.') : undefined);
    const nodes = [node('far', '10.244.1.0/24', '10.0.0.1'), node('near', '10.244.2.0/24', '192.168.50.12')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    expect(table.own).toEqual([{ destination: '10.244.2.0/24', gateway: '192.168.50.12' }]);
    expect(table.calls.filter((call) => call.startsWith('add 10.244.1.0/24'))).toHaveLength(2);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ node: 'far', destination: '10.244.1.0/24', gateway: '10.0.0.1', err: 'Error: Nexthop has invalid gateway.' });
    expect(warnings[0]!.msg).toMatch(/layer-2 network/);
  });

  test("nodes refused for overlapping subnets are each warned about once, naming the other, while the Nodes stay as they are", async () => {
    const { table, routes, log } = setUp();
    const nodes = [node('a', '10.244.1.0/24', '192.168.50.11'), node('twin', '10.244.1.0/24', '192.168.50.12')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    expect(table.calls).toEqual([]);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.node).sort()).toEqual(['a', 'twin']);
    expect(warnings.find((line) => line.node === 'a')?.reason).toBe("its pod subnet overlaps node twin's, 10.244.1.0/24");
  });

  test('a table that cannot be read is warned about once while it fails, and again if it fails after working', async () => {
    const { table, routes, log } = setUp();
    const read = table.read.bind(table);
    let broken = true;
    table.read = () => (broken ? Promise.reject(new Error('ip: command not found')) : read());
    const nodes = [node('a', '10.244.1.0/24', '192.168.50.11')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    broken = false;
    await routes.sync(nodes);
    broken = true;
    await routes.sync(nodes);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.err)).toEqual(['ip: command not found', 'ip: command not found']);
    expect(table.own).toEqual([{ destination: '10.244.1.0/24', gateway: '192.168.50.11' }]);
  });

  test("this node's own Node with another pod subnet than its pods' is warned about once, saying what to give it", async () => {
    const { routes, log } = setUp();
    const nodes = [node('self', '10.244.7.0/24', '192.168.50.10'), node('a', '10.244.1.0/24', '192.168.50.11')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ podCIDR: '10.244.0.0/24', nodePodCIDR: '10.244.7.0/24' });
    expect(warnings[0]!.msg).toMatch(/give it --pod-cidr 10\.244\.7\.0\/24$/);
  });

  test('after stop, a sync changes nothing', async () => {
    const { table, routes } = setUp();
    await routes.stop();
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11')]);
    expect(table.calls).toEqual([]);
  });
});
