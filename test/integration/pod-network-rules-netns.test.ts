/**
 * A routed node's masquerade and forward rules on real iptables: inside a network namespace of
 * the test's own, so the machine's tables are never read or written.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { PodNetworkRules } from '../../agent/network/pod-network-rules.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { createRouteNetns, type RouteNetns } from '../helpers/route-netns.js';

let netns: RouteNetns;

beforeEach(async () => {
  netns = await createRouteNetns();
});

afterEach(async () => {
  await netns.destroy();
});

const ownRules = async (): Promise<string[]> => [...(await netns.savedRules('nat')), ...(await netns.savedRules('filter'))].filter((line) => line.includes('DKL-POD'));

describe("a routed node's pod network rules, on real iptables", () => {
  test('pods are masqueraded only off the pod subnets of the cluster, and routed traffic reaches them; a new set of subnets replaces the old', async () => {
    const log = memoryLogger();
    const rules = new PodNetworkRules({ podCIDR: '10.244.0.0/24', bridge: 'dockerlet0', logger: log.logger, run: netns.iptables });
    await rules.sync(['10.244.1.0/24', '10.244.2.0/24']);
    expect(await ownRules()).toEqual([
      '-A POSTROUTING -s 10.244.0.0/24 ! -o dockerlet0 -m comment --comment "dockerlet pods leaving the node" -j DKL-POD-MASQ',
      '-A DKL-POD-MASQ -d 10.244.0.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -d 10.244.1.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -d 10.244.2.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -m comment --comment "leaving the pod network of the cluster" -j MASQUERADE',
      '-A FORWARD -m comment --comment "routed to dockerlet pods from other nodes" -j DKL-POD-FORWARD',
      '-A DKL-POD-FORWARD -d 10.244.0.0/24 -o dockerlet0 -m comment --comment "routed to the pods of this node" -j ACCEPT',
    ]);

    await rules.sync(['10.244.2.0/24']);
    const masq = (await ownRules()).filter((line) => line.startsWith('-A DKL-POD-MASQ -d'));
    expect(masq.map((line) => line.split(' ')[3])).toEqual(['10.244.0.0/24', '10.244.2.0/24']);
    expect(log.lines.filter((line) => line.level >= 50)).toEqual([]);
  });

  test('a jump removed behind its back is put back at the next sync, once, and the forward jump goes first', async () => {
    const rules = new PodNetworkRules({ podCIDR: '10.244.0.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, run: netns.iptables });
    await rules.sync([]);
    // Someone else's FORWARD rule first, as Docker's DOCKER-USER jump would be.
    await netns.iptables('iptables', ['-w', '-N', 'OTHER']);
    await netns.iptables('iptables', ['-w', '-I', 'FORWARD', '1', '-j', 'OTHER']);
    await netns.iptables('iptables', ['-w', '-t', 'nat', '-F', 'POSTROUTING']);
    await netns.iptables('iptables', ['-w', '-D', 'FORWARD', '-m', 'comment', '--comment', "routed to dockerlet pods from other nodes", '-j', 'DKL-POD-FORWARD']);
    await rules.sync([]);
    await rules.sync([]);
    const forward = (await netns.savedRules('filter')).filter((line) => line.startsWith('-A FORWARD'));
    expect(forward).toEqual(['-A FORWARD -m comment --comment "routed to dockerlet pods from other nodes" -j DKL-POD-FORWARD', '-A FORWARD -j OTHER']);
    expect((await netns.savedRules('nat')).filter((line) => line.startsWith('-A POSTROUTING'))).toHaveLength(1);
  });
});
