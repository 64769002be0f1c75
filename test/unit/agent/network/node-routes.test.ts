/** Routes to other nodes' pods from the Nodes: which routes, and keeping a table equal to them. */
import { describe, expect, test } from 'vitest';
import { desiredRoutes, NodeRoutes, type LocalNode, type NodeRoute, type RouteTable } from '../../../../agent/network/node-routes.js';
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

const self: LocalNode = { name: 'self', podCIDR: parseIpv4Cidr('10.244.0.0/24')!, hostIPs: ['192.168.50.10'] };

/** A routing table in memory that records what it was asked, and can be told to refuse. */
class MemoryTable implements RouteTable {
  routes: NodeRoute[] = [];
  readonly calls: string[] = [];
  refuse: ((route: NodeRoute) => Error | undefined) | undefined;

  async list(): Promise<NodeRoute[]> {
    return this.routes.map((route) => ({ ...route }));
  }

  async replace(route: NodeRoute): Promise<void> {
    this.calls.push(`replace ${route.destination} via ${route.gateway}`);
    const refused = this.refuse?.(route);
    if (refused) throw refused;
    this.routes = [...this.routes.filter((r) => r.destination !== route.destination), route];
  }

  async remove(route: NodeRoute): Promise<void> {
    this.calls.push(`remove ${route.destination} via ${route.gateway}`);
    this.routes = this.routes.filter((r) => r.destination !== route.destination);
  }
}

describe('desiredRoutes', () => {
  test("one route per other node: its pod subnet via its InternalIP, never to this node's own", () => {
    const nodes = [node('b', '10.244.2.0/24', '192.168.50.12'), node('a', '10.244.1.0/24', '192.168.50.11'), node('self', '10.244.0.0/24', '192.168.50.10')];
    expect(desiredRoutes(nodes, self).routes).toEqual([
      { node: 'a', destination: '10.244.1.0/24', gateway: '192.168.50.11' },
      { node: 'b', destination: '10.244.2.0/24', gateway: '192.168.50.12' },
    ]);
  });

  test('a node without a pod subnet yet, or without an IPv4 InternalIP, gets no route', () => {
    const nodes = [
      node('unallocated', undefined, '192.168.50.11'),
      node('no-address', '10.244.2.0/24', undefined),
      node('v6-only', '10.244.3.0/24', undefined, { status: { addresses: [{ type: 'InternalIP', address: 'fd00::3' }] } }),
    ];
    expect(desiredRoutes(nodes, self)).toEqual({ routes: [], overlapping: [] });
  });

  test('podCIDRs is read before podCIDR, and its first IPv4 subnet is the one routed (dual-stack)', () => {
    const dual = node('dual', undefined, '192.168.50.11', { spec: { podCIDR: 'fd00:10:244:1::/64', podCIDRs: ['fd00:10:244:1::/64', '10.244.1.0/24'] } });
    const legacy = node('legacy', undefined, '192.168.50.12', { spec: { podCIDR: '10.244.2.0/24' } });
    expect(desiredRoutes([dual, legacy], self).routes).toEqual([
      { node: 'dual', destination: '10.244.1.0/24', gateway: '192.168.50.11' },
      { node: 'legacy', destination: '10.244.2.0/24', gateway: '192.168.50.12' },
    ]);
  });

  test("a node at one of this host's addresses shares this host and gets no route", () => {
    expect(desiredRoutes([node('neighbour', '10.244.1.0/24', '192.168.50.10')], self)).toEqual({ routes: [], overlapping: [] });
  });

  test("a node whose pod subnet overlaps this node's, either way round, is set apart and never routed", () => {
    const nodes = [node('inside', '10.244.0.128/25', '192.168.50.11'), node('around', '10.244.0.0/16', '192.168.50.12'), node('apart', '10.244.1.0/24', '192.168.50.13')];
    expect(desiredRoutes(nodes, self)).toEqual({
      routes: [{ node: 'apart', destination: '10.244.1.0/24', gateway: '192.168.50.13' }],
      overlapping: [
        { node: 'inside', destination: '10.244.0.128/25', gateway: '192.168.50.11' },
        { node: 'around', destination: '10.244.0.0/16', gateway: '192.168.50.12' },
      ],
    });
  });
});

describe('NodeRoutes', () => {
  const setUp = (): { table: MemoryTable; routes: NodeRoutes; log: ReturnType<typeof memoryLogger> } => {
    const table = new MemoryTable();
    const log = memoryLogger();
    return { table, routes: new NodeRoutes({ table, local: self, logger: log.logger }), log };
  };

  test('sets the missing routes, leaves the right ones alone, points a moved one at its new address, and removes those of nodes that left', async () => {
    const { table, routes } = setUp();
    table.routes = [
      { destination: '10.244.1.0/24', gateway: '192.168.50.11' },
      { destination: '10.244.2.0/24', gateway: '192.168.50.99' },
      { destination: '10.244.9.0/24', gateway: '192.168.50.19' },
    ];
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11'), node('b', '10.244.2.0/24', '192.168.50.12'), node('c', '10.244.3.0/24', '192.168.50.13')]);
    expect(table.calls).toEqual(['remove 10.244.9.0/24 via 192.168.50.19', 'replace 10.244.2.0/24 via 192.168.50.12', 'replace 10.244.3.0/24 via 192.168.50.13']);
    expect(table.routes).toHaveLength(3);

    table.calls.length = 0;
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11'), node('b', '10.244.2.0/24', '192.168.50.12'), node('c', '10.244.3.0/24', '192.168.50.13')]);
    expect(table.calls).toEqual([]);
  });

  test('sets given while a sync runs fold into one more, with the newest', async () => {
    const { table, routes } = setUp();
    const first = routes.sync([node('a', '10.244.1.0/24', '192.168.50.11')]);
    void routes.sync([node('b', '10.244.2.0/24', '192.168.50.12')]);
    const last = routes.sync([node('c', '10.244.3.0/24', '192.168.50.13')]);
    await Promise.all([first, last]);
    expect(table.routes).toEqual([{ destination: '10.244.3.0/24', gateway: '192.168.50.13' }]);
    expect(table.calls).not.toContain('replace 10.244.2.0/24 via 192.168.50.12');
  });

  test('a route the kernel refuses is logged once with what to check, the others are still set, and it is tried again at the next sync', async () => {
    const { table, routes, log } = setUp();
    table.refuse = (route) => (route.gateway === '10.0.0.1' ? new Error('Error: Nexthop has invalid gateway.') : undefined);
    const nodes = [node('far', '10.244.1.0/24', '10.0.0.1'), node('near', '10.244.2.0/24', '192.168.50.12')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    expect(table.routes).toEqual([{ destination: '10.244.2.0/24', gateway: '192.168.50.12' }]);
    expect(table.calls.filter((call) => call.startsWith('replace 10.244.1.0/24'))).toHaveLength(2);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ node: 'far', destination: '10.244.1.0/24', gateway: '10.0.0.1', err: 'Error: Nexthop has invalid gateway.' });
    expect(warnings[0]!.msg).toMatch(/layer-2 network/);
  });

  test("an overlapping node is warned about once, naming both subnets and what to do, and its subnet is never routed", async () => {
    const { table, routes, log } = setUp();
    const nodes = [node('clash', '10.244.0.0/16', '192.168.50.11')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    expect(table.calls).toEqual([]);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ node: 'clash', destination: '10.244.0.0/16', podCIDR: '10.244.0.0/24' });
    expect(warnings[0]!.msg).toMatch(/--allocate-node-cidrs/);
  });

  test('a table that cannot be listed is warned about once while it fails, and again if it fails after working', async () => {
    const { table, routes, log } = setUp();
    const list = table.list.bind(table);
    let broken = true;
    table.list = () => (broken ? Promise.reject(new Error('ip: command not found')) : list());
    const nodes = [node('a', '10.244.1.0/24', '192.168.50.11')];
    await routes.sync(nodes);
    await routes.sync(nodes);
    broken = false;
    await routes.sync(nodes);
    broken = true;
    await routes.sync(nodes);
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.err)).toEqual(['ip: command not found', 'ip: command not found']);
    expect(table.routes).toEqual([{ destination: '10.244.1.0/24', gateway: '192.168.50.11' }]);
  });

  test('after stop, a sync changes nothing', async () => {
    const { table, routes } = setUp();
    await routes.stop();
    await routes.sync([node('a', '10.244.1.0/24', '192.168.50.11')]);
    expect(table.calls).toEqual([]);
  });
});
