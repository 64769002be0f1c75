/**
 * Routes to other nodes' pods on a real routing table: iproute2 inside a network namespace of
 * the test's own (a veth pair standing in for the nodes' shared layer-2 network), so the
 * machine's own table is never read or written.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { IpRouteTable } from '../../agent/network/ip-route-table.js';
import { NodeRoutes, type LocalNode } from '../../agent/network/node-routes.js';
import type { Node } from '../../common/api/types.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { createRouteNetns, NodeAddress, type RouteNetns } from '../helpers/route-netns.js';

let netns: RouteNetns;

beforeEach(async () => {
  netns = await createRouteNetns();
});

afterEach(async () => {
  await netns.destroy();
});

const self: LocalNode = { name: 'self', podCIDR: parseIpv4Cidr('10.244.0.0/24')! };

const node = (name: string, podCIDR: string, internalIP: string): Node => ({
  metadata: { name },
  spec: { podCIDR, podCIDRs: [podCIDR] },
  status: { addresses: [{ type: 'InternalIP', address: internalIP }] },
});

describe('routes to other nodes, on a real routing table', () => {
  test('each other node gets its route via its InternalIP, a node that leaves takes its route with it, and a route of anyone else is left alone', async () => {
    // Someone else's route, which must survive every sync.
    await netns.ip(['-4', 'route', 'add', '10.99.0.0/16', 'via', '192.168.77.1']);
    const log = memoryLogger();
    const routes = new NodeRoutes({ table: new IpRouteTable(netns.ip), local: self, logger: log.logger });

    await routes.sync([node('self', '10.244.0.0/24', '192.168.77.10'), node('a', '10.244.1.0/24', '192.168.77.11'), node('b', '10.244.2.0/24', '192.168.77.12')]);
    expect(await netns.agentRoutes()).toEqual([
      `10.244.1.0/24 via 192.168.77.11 dev node0`,
      `10.244.2.0/24 via 192.168.77.12 dev node0`,
    ]);

    // b left; a came back with another address.
    await routes.sync([node('self', '10.244.0.0/24', '192.168.77.10'), node('a', '10.244.1.0/24', '192.168.77.21')]);
    expect(await netns.agentRoutes()).toEqual([`10.244.1.0/24 via 192.168.77.21 dev node0`]);
    expect(await netns.ip(['-4', 'route', 'show', '10.99.0.0/16'])).toMatch(/via 192\.168\.77\.1 dev node0/);
    expect(log.lines.filter((line) => line.level >= 40)).toEqual([]);
  });

  test('a restarted agent finds the routes it set before and removes those no node calls for', async () => {
    const first = new NodeRoutes({ table: new IpRouteTable(netns.ip), local: self, logger: memoryLogger().logger });
    await first.sync([node('a', '10.244.1.0/24', '192.168.77.11'), node('b', '10.244.2.0/24', '192.168.77.12')]);
    await first.stop();
    const second = new NodeRoutes({ table: new IpRouteTable(netns.ip), local: self, logger: memoryLogger().logger });
    await second.sync([node('a', '10.244.1.0/24', '192.168.77.11')]);
    expect(await netns.agentRoutes()).toEqual([`10.244.1.0/24 via 192.168.77.11 dev node0`]);
  });

  test('a node off this network (no host-gateway route to it) is warned about by name and the kernel\'s words; the others are routed', async () => {
    const log = memoryLogger();
    const routes = new NodeRoutes({ table: new IpRouteTable(netns.ip), local: self, logger: log.logger });
    await routes.sync([node('far', '10.244.1.0/24', '10.50.0.1'), node('near', '10.244.2.0/24', '192.168.77.12')]);
    expect(await netns.agentRoutes()).toEqual([`10.244.2.0/24 via 192.168.77.12 dev node0`]);
    const [warning, ...more] = log.lines.filter((line) => line.level === 40);
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ node: 'far', destination: '10.244.1.0/24', gateway: '10.50.0.1' });
    expect(String(warning!.err)).toMatch(/Nexthop has invalid gateway|Network is unreachable/);
  });

  test("a route of someone else's to a node's pod subnet, even of another metric, and the network this host is on are never replaced or shadowed", async () => {
    await netns.ip(['-4', 'route', 'add', '10.244.1.0/24', 'via', '192.168.77.1', 'metric', '100']);
    const before = await netns.ip(['-4', 'route', 'show', 'table', 'main']);
    const log = memoryLogger();
    const routes = new NodeRoutes({ table: new IpRouteTable(netns.ip), local: self, logger: log.logger });
    await routes.sync([node('a', '10.244.1.0/24', '192.168.77.11'), node('lan', '192.168.77.0/24', '10.50.0.1'), node('here', '10.244.3.0/24', NodeAddress)]);
    expect(await netns.agentRoutes()).toEqual([]);
    expect(await netns.ip(['-4', 'route', 'show', 'table', 'main'])).toBe(before);
    expect(Object.fromEntries(log.lines.filter((line) => line.level === 40).map((line) => [line.node, line.reason]))).toEqual({
      a: 'a route to 10.244.1.0/24 that this agent did not make is there',
      lan: 'a route to 192.168.77.0/24 that this agent did not make is there',
      here: `its InternalIP ${NodeAddress} is an address of this host`,
    });
  });

  test('removing a route already gone is fine', async () => {
    await new IpRouteTable(netns.ip).remove({ destination: '10.244.7.0/24', gateway: '192.168.77.17' });
    expect(await netns.agentRoutes()).toEqual([]);
  });
});
