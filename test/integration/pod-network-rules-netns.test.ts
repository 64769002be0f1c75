/**
 * A routed node's masquerade and forward rules on real iptables: inside a network namespace of
 * the test's own, so the machine's tables are never read or written.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { PodNetworkRules, removePodNetworkRules } from '../../agent/network/pod-network-rules.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { createRouteNetns, type RouteNetns } from '../helpers/route-netns.js';

let netns: RouteNetns;

beforeEach(async () => {
  netns = await createRouteNetns();
});

afterEach(async () => {
  await netns.destroy();
});

const iptables = async (...args: string[]): Promise<void> => {
  const result = await netns.runner.run('iptables', ['-w', '5', ...args]);
  if (result.code !== 0) throw new Error(result.stderr);
};
const rulesOf = async (table: 'nat' | 'filter', chain: string): Promise<string[]> => (await netns.savedRules(table)).filter((line) => line.startsWith(`-A ${chain} `));
const Jump = (chain: string): string => `-m comment --comment "dockerlet pod network" -j ${chain}`;

describe("a routed node's pod network rules, on real iptables", () => {
  test('pods are masqueraded only off the pod subnets of the cluster, and routed traffic reaches them; a new set of subnets replaces the old', async () => {
    const log = memoryLogger();
    const rules = new PodNetworkRules({ podCIDR: '10.244.0.0/24', bridge: 'dockerlet0', logger: log.logger, runner: netns.runner });
    await rules.sync(['10.244.1.0/24', '10.244.2.0/24']);
    expect(await rulesOf('nat', 'POSTROUTING')).toEqual([`-A POSTROUTING ${Jump('DKL-POD-MASQ')}`]);
    expect(await rulesOf('nat', 'DKL-POD-MASQ')).toEqual([
      '-A DKL-POD-MASQ ! -s 10.244.0.0/24 -m comment --comment "not from the pods of this node" -j RETURN',
      '-A DKL-POD-MASQ -o dockerlet0 -m comment --comment "to the pods of this node" -j RETURN',
      '-A DKL-POD-MASQ -d 10.244.0.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -d 10.244.1.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -d 10.244.2.0/24 -m comment --comment "pod network of the cluster" -j RETURN',
      '-A DKL-POD-MASQ -m comment --comment "leaving the pod network of the cluster" -j MASQUERADE',
    ]);
    // No Docker in the namespace: no DOCKER-USER, so the jump is FORWARD's first rule.
    expect(await rulesOf('filter', 'FORWARD')).toEqual([`-A FORWARD ${Jump('DKL-POD-FORWARD')}`]);
    expect(await rulesOf('filter', 'DKL-POD-FORWARD')).toEqual(['-A DKL-POD-FORWARD -d 10.244.0.0/24 -o dockerlet0 -m comment --comment "routed to the pods of this node" -j ACCEPT']);

    await rules.sync(['10.244.2.0/24']);
    const exempt = (await rulesOf('nat', 'DKL-POD-MASQ')).filter((line) => line.startsWith('-A DKL-POD-MASQ -d'));
    expect(exempt.map((line) => line.split(' ')[3])).toEqual(['10.244.0.0/24', '10.244.2.0/24']);
    expect(log.lines.filter((line) => line.level >= 50)).toEqual([]);
  });

  test("a flushed chain is filled again and a jump removed or pushed down is put back first, at the next sync; with Docker's DOCKER-USER, the jump goes there", async () => {
    const rules = new PodNetworkRules({ podCIDR: '10.244.0.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: netns.runner });
    await rules.sync([]);
    await iptables('-t', 'nat', '-F', 'DKL-POD-MASQ');
    await iptables('-t', 'nat', '-F', 'POSTROUTING');
    // Someone else's rule first, as a restarted Docker's would be.
    await iptables('-N', 'OTHER');
    await iptables('-I', 'FORWARD', '1', '-j', 'OTHER');
    await rules.sync([]);
    expect(await rulesOf('nat', 'DKL-POD-MASQ')).toHaveLength(4);
    expect(await rulesOf('nat', 'POSTROUTING')).toEqual([`-A POSTROUTING ${Jump('DKL-POD-MASQ')}`]);
    expect(await rulesOf('filter', 'FORWARD')).toEqual([`-A FORWARD ${Jump('DKL-POD-FORWARD')}`, '-A FORWARD -j OTHER']);

    await iptables('-N', 'DOCKER-USER');
    await iptables('-A', 'DOCKER-USER', '-j', 'RETURN');
    await rules.sync([]);
    expect(await rulesOf('filter', 'DOCKER-USER')).toEqual([`-A DOCKER-USER ${Jump('DKL-POD-FORWARD')}`, '-A DOCKER-USER -j RETURN']);
    expect(await rulesOf('filter', 'FORWARD')).toEqual(['-A FORWARD -j OTHER']);
  });

  test('a node removed for good takes both chains and every jump into them away, the others\' rules staying; with nothing there, nothing fails', async () => {
    await new PodNetworkRules({ podCIDR: '10.244.0.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: netns.runner }).sync(['10.244.1.0/24']);
    await iptables('-A', 'FORWARD', '-j', 'ACCEPT');
    // A jump of an earlier build's, with arguments of its own.
    await iptables('-t', 'nat', '-A', 'POSTROUTING', '-s', '10.0.0.0/8', '-j', 'DKL-POD-MASQ');
    await removePodNetworkRules(netns.runner);
    // The chains' declarations too, not only their rules.
    const saved = (await netns.runner.run('iptables-save', [])).stdout;
    expect(saved.split('\n').filter((line) => line.includes('DKL-POD'))).toEqual([]);
    expect(await rulesOf('filter', 'FORWARD')).toEqual(['-A FORWARD -j ACCEPT']);
    await removePodNetworkRules(netns.runner);
  });
});
