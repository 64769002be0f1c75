import { describe, expect, test } from 'vitest';
import { PodNetworkRules } from '../../../../agent/network/pod-network-rules.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeRunner } from '../../proxy/fake-runner.js';

const Jump = (chain: string): string => `-m comment --comment "dockerlet pod network" -j ${chain}`;

/** A runner whose iptables-save shows `nat` and `filter` as given (and Docker's DOCKER-USER unless `docker` is false). */
function runner(tables: { nat: string[]; filter: string[] }, docker = true): FakeRunner {
  const save = (name: 'nat' | 'filter', chains: string[]): string => [`*${name}`, ...chains.map((chain) => `:${chain} - [0:0]`), ...tables[name], 'COMMIT', ''].join('\n');
  return new FakeRunner()
    .when('iptables-save', ['-t', 'nat'], { stdout: save('nat', ['POSTROUTING', 'DKL-POD-MASQ']) })
    .when('iptables-save', ['-t', 'filter'], { stdout: save('filter', ['FORWARD', ...(docker ? ['DOCKER-USER'] : []), 'DKL-POD-FORWARD']) });
}

const changes = (fake: FakeRunner): string[] => fake.calls.filter((call) => call.command === 'iptables').map((call) => call.args.slice(2).join(' '));

describe('PodNetworkRules', () => {
  test('with its jumps in place, first in DOCKER-USER, a sync writes the chains and changes no jump', async () => {
    const fake = runner({ nat: [`-A POSTROUTING ${Jump('DKL-POD-MASQ')}`], filter: [`-A DOCKER-USER ${Jump('DKL-POD-FORWARD')}`, '-A DOCKER-USER -j RETURN'] });
    await new PodNetworkRules({ podCIDR: '10.244.1.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: fake }).sync(['10.244.2.0/24']);
    expect(fake.calls.map((call) => call.command)).toEqual(['iptables-restore', 'iptables-save', 'iptables-save']);
    expect(fake.calls[0]!.stdin).toContain('-A DKL-POD-MASQ -d 10.244.2.0/24');
  });

  test("an earlier build's jumps (naming the subnet, another comment) and a second jump go; ours is made, first", async () => {
    const fake = runner({
      nat: ['-A POSTROUTING -s 10.244.1.0/24 ! -o dockerlet0 -m comment --comment "dockerlet pods leaving the node" -j DKL-POD-MASQ'],
      filter: ['-A DOCKER-USER -j RETURN', `-A DOCKER-USER ${Jump('DKL-POD-FORWARD')}`, '-A FORWARD -m comment --comment "routed to dockerlet pods from other nodes" -j DKL-POD-FORWARD'],
    });
    await new PodNetworkRules({ podCIDR: '10.244.1.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: fake }).sync([]);
    expect(changes(fake)).toEqual([
      '-t nat -D POSTROUTING -s 10.244.1.0/24 ! -o dockerlet0 -m comment --comment dockerlet pods leaving the node -j DKL-POD-MASQ',
      `-t nat -A POSTROUTING ${Jump('DKL-POD-MASQ').replaceAll('"', '')}`,
      `-t filter -D DOCKER-USER ${Jump('DKL-POD-FORWARD').replaceAll('"', '')}`,
      '-t filter -D FORWARD -m comment --comment routed to dockerlet pods from other nodes -j DKL-POD-FORWARD',
      `-t filter -I DOCKER-USER 1 ${Jump('DKL-POD-FORWARD').replaceAll('"', '')}`,
    ]);
  });

  test('two jumps alike, the first of them first: both go (-D takes the first alike) and one is made first again', async () => {
    const ours = `-A DOCKER-USER ${Jump('DKL-POD-FORWARD')}`;
    const fake = runner({ nat: [`-A POSTROUTING ${Jump('DKL-POD-MASQ')}`], filter: [ours, '-A DOCKER-USER -j RETURN', ours] });
    await new PodNetworkRules({ podCIDR: '10.244.1.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: fake }).sync([]);
    const plain = Jump('DKL-POD-FORWARD').replaceAll('"', '');
    expect(changes(fake)).toEqual([`-t filter -D DOCKER-USER ${plain}`, `-t filter -D DOCKER-USER ${plain}`, `-t filter -I DOCKER-USER 1 ${plain}`]);
  });

  test("without Docker's DOCKER-USER the forward jump is FORWARD's first rule", async () => {
    const fake = runner({ nat: [`-A POSTROUTING ${Jump('DKL-POD-MASQ')}`], filter: ['-A FORWARD -j ACCEPT'] }, false);
    await new PodNetworkRules({ podCIDR: '10.244.1.0/24', bridge: 'dockerlet0', logger: memoryLogger().logger, runner: fake }).sync([]);
    expect(changes(fake)).toEqual([`-t filter -I FORWARD 1 ${Jump('DKL-POD-FORWARD').replaceAll('"', '')}`]);
  });

  test('a failed command is logged, and the next sync writes the rules again', async () => {
    const fake = runner({ nat: [], filter: [] }).when('iptables-restore', [], { code: 4, stderr: 'Another app is currently holding the xtables lock' });
    const log = memoryLogger();
    const rules = new PodNetworkRules({ podCIDR: '10.244.1.0/24', bridge: 'dockerlet0', logger: log.logger, runner: fake });
    await rules.sync([]);
    expect(log.lines.filter((line) => line.level >= 50).map((line) => line['err'])).toEqual([expect.stringContaining('xtables lock')]);
    await rules.sync([]);
    expect(fake.calls.filter((call) => call.command === 'iptables-restore')).toHaveLength(2);
  });
});
