/**
 * A cluster node's routes to the other nodes' pods, kept from a real kube-apiserver's Nodes with
 * the node's own credentials (the Node authorizer lets a node list and watch Nodes), on the
 * routing table of a network namespace of the test's own.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { IpRouteTable } from '../../agent/network/ip-route-table.js';
import { RouteController } from '../../agent/network/route-controller.js';
import { KubeClient } from '../../common/kube-api/kube-client.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { useControlPlane } from '../helpers/cluster.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { createRouteNetns, type RouteNetns } from '../helpers/route-netns.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

let netns: RouteNetns;
let created: string[];

beforeEach(async () => {
  netns = await createRouteNetns();
  created = [];
});

afterEach(async () => {
  for (const name of created) await plane().request('DELETE', `/api/v1/nodes/${name}`);
  await netns.destroy();
});

/** Registers a Node as an agent would, with its pod subnet and InternalIP; its name. */
async function registerNode(podCIDR: string, internalIP: string): Promise<string> {
  const name = `routes-${randomBytes(3).toString('hex')}`;
  const response = await plane().request('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR, podCIDRs: [podCIDR] },
    status: { addresses: [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }] },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  created.push(name);
  return name;
}

const route = (destination: string, gateway: string): string => `${destination} via ${gateway} dev node0`;

test("routes follow the Nodes: a new node's pod subnet is routed via its InternalIP, a deleted node's route goes, and a route removed by hand is set again at the next resync", async () => {
  const selfName = `routes-self-${randomBytes(3).toString('hex')}`;
  const client = await KubeClient.fromKubeconfig(await plane().nodeKubeconfig(selfName), 'dockerlet-test');
  const log = memoryLogger();
  const controller = new RouteController({
    client,
    local: { name: selfName, podCIDR: parseIpv4Cidr('10.250.0.0/24')! },
    table: new IpRouteTable(netns.ip),
    resyncPeriodMs: 200,
    logger: log.logger,
  });
  controller.start();
  try {
    const a = await registerNode('10.250.1.0/24', '192.168.77.11');
    const b = await registerNode('10.250.2.0/24', '192.168.77.12');
    await waitFor('routes to both nodes', async () => {
      const routes = await netns.agentRoutes();
      return routes.length === 2 && routes[0] === route('10.250.1.0/24', '192.168.77.11') && routes[1] === route('10.250.2.0/24', '192.168.77.12');
    });

    expect((await plane().request('DELETE', `/api/v1/nodes/${b}`)).status).toBe(200);
    await waitFor("the deleted node's route removed", async () => (await netns.agentRoutes()).join('\n') === route('10.250.1.0/24', '192.168.77.11'));

    await netns.ip(['-4', 'route', 'del', '10.250.1.0/24']);
    await waitFor(`node ${a}'s route set again`, async () => (await netns.agentRoutes()).join('\n') === route('10.250.1.0/24', '192.168.77.11'));
    expect(log.lines.filter((line) => line.level >= 40)).toEqual([]);
  } finally {
    await controller.stop();
  }
});
